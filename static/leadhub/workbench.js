// The lead workbench: outcome buttons pick the status in the form (without JavaScript
// they are links that do the same through the page), and the outcome form is checked
// as staff type by asking the server (the same rules lead_change_status applies;
// see apps/leads/workbench.py:workbench_check_view). Nothing is decided here.
(function () {
  var form = document.getElementById("outcome-form");
  if (!form) { return; }
  var select = document.getElementById("id_to_status");
  var nonField = form.querySelector(".live-nonfield");
  var url = form.getAttribute("data-check-url");
  var token = form.querySelector("[name=csrfmiddlewaretoken]").value;
  var timer = null;
  var sequence = 0;

  function rowFor(name) {
    var input = form.querySelector("[name='" + name + "']");
    return input && input.closest(".form-row");
  }

  function show(errors) {
    // The server's answer replaces every error shown, the page's own included (a
    // failed save renders them, then this check runs again): each appears once.
    form.querySelectorAll(".errorlist").forEach(function (list) { list.remove(); });
    form.querySelectorAll(".form-row.errors").forEach(function (row) { row.classList.remove("errors"); });
    Object.keys(errors).forEach(function (name) {
      var list = document.createElement("ul");
      list.className = "errorlist live-errors";
      errors[name].forEach(function (error) {
        var item = document.createElement("li");
        item.textContent = error.message;  // text, never HTML
        if (error.detail) {  // the vendor's own wording, as a secondary line
          var detail = document.createElement("span");
          detail.className = "error-detail";
          detail.textContent = error.detail;
          item.appendChild(detail);
        }
        list.appendChild(item);
      });
      var row = name === "__all__" ? null : rowFor(name);
      if (row) {
        // A field with a problem is always shown, even one the outcome keeps folded.
        row.classList.add("errors");
        row.classList.remove("wb-hidden");
        row.insertBefore(list, row.firstChild);
      } else { nonField.appendChild(list); }
    });
    summarize(errors);
    // The outcome form folds again what no longer has a problem (status_form.js).
    form.dispatchEvent(new Event("leadhub:errors-shown"));
  }

  // A summary above the form, one line per problem linking to its field (GOV.UK
  // error summary): on a phone the field at fault may be a screen away.
  var summary = document.createElement("div");
  summary.className = "error-summary";
  summary.hidden = true;
  form.insertBefore(summary, form.querySelector("fieldset"));

  function summarize(errors) {
    summary.textContent = "";
    var names = Object.keys(errors).filter(function (name) { return errors[name].length; });
    var count = names.reduce(function (n, name) { return n + errors[name].length; }, 0);
    summary.hidden = count < 2;  // one problem is already next to the button staff look at
    if (summary.hidden) { return; }
    var title = document.createElement("p");
    title.className = "error-summary-title";
    title.textContent = "Fix these " + count + " things to save this outcome:";
    summary.appendChild(title);
    var list = document.createElement("ul");
    names.forEach(function (name) {
      errors[name].forEach(function (error) {
        var item = document.createElement("li");
        var input = name === "__all__" ? null : form.querySelector("[name='" + name + "']");
        if (input && input.id) {
          var link = document.createElement("a");
          link.href = "#" + input.id;
          link.textContent = error.message;
          item.appendChild(link);
        } else {
          item.textContent = error.message;
        }
        list.appendChild(item);
      });
    });
    summary.appendChild(list);
  }

  function check() {
    if (!select.value) { show({}); return; }
    var mine = ++sequence;
    fetch(url, {method: "POST", body: new FormData(form), credentials: "same-origin",
                headers: {"X-CSRFToken": token, "Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data && mine === sequence) { show(data.errors); } })
      .catch(function () { /* offline: saving still checks everything */ });
  }

  function later() { clearTimeout(timer); timer = setTimeout(check, 250); }
  form.addEventListener("input", later);
  form.addEventListener("change", later);

  document.querySelectorAll("a.wb-action").forEach(function (link) {
    link.addEventListener("click", function (event) {
      event.preventDefault();
      select.value = link.getAttribute("data-status");
      select.dispatchEvent(new Event("change", {bubbles: true}));
      select.focus();
    });
  });
  if (select.value) { check(); }
})();
