(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var rows = Array.prototype.slice.call(document.querySelectorAll("#flake-table tbody tr"));
  function apply() {
    var outcome = $("f-outcome").value, cls = $("f-class").value, combo = $("f-combo").value;
    var differ = $("f-differ").checked, query = $("f-search").value.toLowerCase();
    var shown = 0;
    rows.forEach(function (tr) {
      var ok = !differ || tr.dataset.differ === "1";
      if (ok && query) { ok = tr.dataset.flake.indexOf(query) >= 0; }
      if (ok && (outcome || cls || combo)) {
        ok = Array.prototype.slice.call(tr.cells, 1).some(function (td) {
          return (!combo || td.dataset.combo === combo) &&
            (!outcome || td.dataset.outcome === outcome) &&
            (!cls || td.dataset.class === cls);
        });
      }
      tr.hidden = !ok;
      if (ok) { shown++; }
    });
    $("f-count").textContent = shown + " of " + rows.length + " flakes shown";
  }
  ["f-outcome", "f-class", "f-combo", "f-differ", "f-search"].forEach(function (id) {
    $(id).addEventListener("input", apply);
    $(id).addEventListener("change", apply);
  });
  function openTarget() {
    var el = location.hash && document.getElementById(location.hash.slice(1));
    if (el && el.tagName === "DETAILS") { el.open = true; }
  }
  window.addEventListener("hashchange", openTarget);
  openTarget();
  apply();
}());
