// Marks the status form's fields that the lead's vendor requires for the chosen
// status. The rules come from the server (the vendor's rules module) as JSON.
(function () {
  var data = document.getElementById("required-by-status");
  var select = document.getElementById("id_to_status");
  if (!data || !select) { return; }
  var rules = JSON.parse(data.textContent);
  function mark() {
    var needed = rules[select.value] || [];
    document.querySelectorAll("fieldset .form-row label").forEach(function (label) {
      var name = (label.getAttribute("for") || "").replace(/^id_/, "");
      label.classList.toggle("required", needed.indexOf(name) >= 0);
    });
  }
  select.addEventListener("change", mark);
  mark();
})();
