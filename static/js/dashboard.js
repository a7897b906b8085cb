/* Dashboard charts and controls. Data comes from json_script elements; no inline scripts. */
(function () {
  "use strict";

  var PALETTE = ["#1664ff", "#d92d20", "#d97706", "#2f9e44", "#7c3aed", "#0891b2"];

  function readJSON(id) {
    var el = document.getElementById(id);
    return el ? JSON.parse(el.textContent) : null;
  }

  function drawTrend() {
    var data = readJSON("trend-data");
    var canvas = document.getElementById("trend-chart");
    if (!data || !canvas || typeof Chart === "undefined") { return; }
    var datasets = data.series.map(function (s, i) {
      return { label: s.label, data: s.data, backgroundColor: PALETTE[i % PALETTE.length], borderWidth: 0, maxBarThickness: 28 };
    });
    var lang = document.documentElement.lang || "zh-hans";
    // On a phone (390 px) twelve "2026-10" labels do not fit: shorter labels ("26-10"), no rotation,
    // Chart.js skips what still does not fit, and the edge labels keep some room.
    var narrow = (canvas.parentNode.clientWidth || window.innerWidth) < 560;
    var tickFont = { size: narrow ? 10 : 12 };
    canvas.dataset.ready = "0";
    new Chart(canvas, {
      type: "bar",
      data: { labels: data.months, datasets: datasets },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        locale: lang === "en" ? "en" : "zh-CN",
        interaction: { mode: "index", intersect: false },
        layout: { padding: { left: 2, right: narrow ? 10 : 4 } },
        plugins: { legend: { position: "bottom", labels: { boxWidth: narrow ? 10 : 12, font: tickFont } } },
        scales: {
          x: {
            stacked: true,
            grid: { display: false },
            ticks: {
              autoSkip: true,
              autoSkipPadding: narrow ? 6 : 3,
              maxRotation: narrow ? 0 : 45,
              minRotation: 0,
              font: tickFont,
              callback: function (value) {
                var label = this.getLabelForValue(value);
                return narrow && typeof label === "string" ? label.slice(2) : label;
              }
            }
          },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0, font: tickFont } }
        }
      }
    });
    canvas.dataset.ready = "1";
  }

  function autoSubmitDepartment() {
    var form = document.getElementById("deptpick");
    if (!form) { return; }
    var select = form.querySelector("select");
    var button = form.querySelector("button");
    if (button) { button.classList.add("js-hidden"); }
    select.addEventListener("change", function () { form.submit(); });
  }

  document.addEventListener("DOMContentLoaded", function () {
    drawTrend();
    autoSubmitDepartment();
  });
})();
