// The export page's "Select all" toggle, bound here instead of an inline
// onchange attribute (the CSP refuses inline handlers). onSelectToggleChange is
// django-import-export's own function (export_selectable_fields.js, in form.media).
document.addEventListener("DOMContentLoaded", function () {
  document.querySelectorAll("input.select-toggle").forEach(function (toggle) {
    toggle.addEventListener("change", function (event) {
      if (typeof window.onSelectToggleChange === "function") {
        window.onSelectToggleChange(event);
      }
    });
  });
});
