/* OutcomePortal — the contract form (billing:contract): a price row shows only the fields of the
   model it chose, an optional part its fields only while it is included. Without this script every
   field shows and the page works the same: the server reads only the chosen model's fields and the
   ticked parts'. The live preview is htmx's (attributes on the form). No inline script (CSP). */
(function () {
  "use strict";

  function showModel(row) {
    var select = row.querySelector("select[data-model-select]");
    if (!select) { return; }
    row.querySelectorAll("[data-model]").forEach(function (group) {
      group.hidden = group.getAttribute("data-model").split(" ").indexOf(select.value) === -1;
    });
  }

  function showPart(part) {
    var box = part.querySelector("input[data-part-include]");
    var fields = part.querySelector("[data-part-fields]");
    if (box && fields) { fields.hidden = !box.checked; }
  }

  function init() {
    var form = document.getElementById("contract-form");
    if (!form) { return; }
    form.querySelectorAll("[data-price-row]").forEach(showModel);
    form.querySelectorAll("[data-part]").forEach(showPart);
    form.addEventListener("change", function (event) {
      var target = event.target;
      if (target.matches("[data-model-select]")) { showModel(target.closest("[data-price-row]")); }
      if (target.matches("[data-part-include]")) { showPart(target.closest("[data-part]")); }
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
