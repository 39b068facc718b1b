"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var overlay = document.getElementById("overlay");
  var unitMap = document.getElementById("unitmap");
  var radios = document.querySelectorAll("input[name=map]");
  function showMap() {
    var sel = document.querySelector("input[name=map]:checked");
    if (!sel || sel.value === "none") { overlay.classList.add("hidden"); return; }
    overlay.src = sel.value;
    overlay.classList.remove("hidden");
  }
  radios.forEach(function (r) { r.addEventListener("change", showMap); });
  showMap();
  document.querySelectorAll("button[data-map]").forEach(function (b) {
    b.addEventListener("click", function () {
      var li = b.closest("li"), on = !li.classList.contains("on");
      document.querySelectorAll("ol.units li").forEach(function (x) { x.classList.remove("on"); });
      document.querySelectorAll("button[data-map]").forEach(function (x) { x.textContent = "show map"; });
      if (on) {
        document.querySelector("input[name=map][value=none]").checked = true;
        showMap();
        li.classList.add("on");
        unitMap.src = b.getAttribute("data-map");
        unitMap.classList.remove("hidden");
        b.textContent = "hide map";
      } else {
        unitMap.classList.add("hidden");
      }
    });
  });
});
