// The outcome form (the "Change status" screen and the workbench): marks the fields
// that must be filled for the chosen status. What is required comes from the server
// (LeadHub's lifecycle and the vendor's rules module) as JSON; nothing is decided here.
// On the workbench the server also declares which fields each status shows and which
// reasons fit it (#outcome-field-spec); this only hides what it does not list.
(function () {
  var data = document.getElementById("required-by-status");
  var select = document.getElementById("id_to_status");
  if (!data || !select) { return; }
  var rules = JSON.parse(data.textContent);
  var specNode = document.getElementById("outcome-field-spec");
  var spec = specNode ? JSON.parse(specNode.textContent) : null;
  var reason = document.getElementById("id_reason");
  var stage = document.getElementById("id_stage");
  var showAll = document.getElementById("show-all-fields");
  var form = select.form;

  function fieldName(row) {
    var input = row.querySelector("[name]");
    return input ? input.getAttribute("name") : "";
  }

  function mark() {
    var needed = (rules[select.value] || []).slice();
    if (spec && reason && spec.comment_reasons.indexOf(parseInt(reason.value, 10)) >= 0) {
      needed.push("comment");
    }
    // What the picked stage adds (a first stage makes a Cat lead an opportunity), for
    // the outcome that takes a stage (the server's declaration says which).
    var picksStage = spec && spec.statuses[select.value] && spec.statuses[select.value].shown.indexOf("stage") >= 0;
    if (picksStage && stage && stage.value && spec.by_stage) {
      needed = needed.concat(spec.by_stage[stage.value] || []);
    }
    form.querySelectorAll("fieldset .form-row label").forEach(function (label) {
      var name = (label.getAttribute("for") || "").replace(/^id_/, "");
      label.classList.toggle("required", needed.indexOf(name) >= 0);
    });
    if (!spec) { return; }
    var status = spec.statuses[select.value];
    var everything = showAll && showAll.checked;
    form.querySelectorAll("fieldset .form-row").forEach(function (row) {
      var name = fieldName(row);
      var shown = everything || name === "to_status" || row.classList.contains("errors") ||
        (status && (status.shown.indexOf(name) >= 0 || needed.indexOf(name) >= 0));
      row.classList.toggle("wb-hidden", !shown);
    });
    if (reason) {
      Array.prototype.forEach.call(reason.options, function (option) {
        option.hidden = !!(status && option.value && status.reasons.indexOf(parseInt(option.value, 10)) < 0);
      });
      if (reason.selectedOptions.length && reason.selectedOptions[0].hidden) { reason.value = ""; }
    }
  }
  // Switching the outcome resets what the previous choice's fields held once they
  // are hidden (to the value the page came with): a hidden amount or reason typed
  // for another outcome is never saved with this one.
  function resetHidden() {
    form.querySelectorAll("fieldset .form-row.wb-hidden").forEach(function (row) {
      row.querySelectorAll("input, select, textarea").forEach(function (input) {
        if (input.type === "checkbox" || input.type === "radio") {
          input.checked = input.defaultChecked;
        } else if (input.tagName === "SELECT") {
          Array.prototype.forEach.call(input.options, function (option) { option.selected = option.defaultSelected; });
        } else if (input.type !== "hidden") {
          input.value = input.defaultValue;
        }
      });
    });
  }
  select.addEventListener("change", function () { mark(); resetHidden(); });
  if (reason) { reason.addEventListener("change", mark); }
  if (stage) { stage.addEventListener("change", mark); }
  if (showAll) { showAll.addEventListener("change", mark); }
  form.addEventListener("leadhub:errors-shown", mark);
  mark();
})();
