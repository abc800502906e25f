// Draws a report's chart from its json_script block with the vendored Chart.js
// (static/vendor/chartjs, `make vendor-js`). The numbers come from the server
// (apps/reports/reports.py); the table on the page holds the same ones.
(function () {
  var data = document.getElementById("report-chart-data");
  var canvas = document.getElementById("report-chart");
  document.querySelectorAll("[data-print]").forEach(function (link) {
    link.addEventListener("click", function (event) { event.preventDefault(); window.print(); });
  });
  if (!data || !canvas || typeof Chart === "undefined") { return; }
  var spec = JSON.parse(data.textContent);
  if (!spec.type) { return; }
  var palette = ["#417690", "#ba2121", "#e0a526", "#5b8c3a", "#7a5195", "#666666", "#2a9d8f"];
  new Chart(canvas, {
    type: spec.type,
    data: {
      labels: spec.labels,
      datasets: spec.datasets.map(function (set, i) {
        return {label: set.label, data: set.data, backgroundColor: palette[i % palette.length],
                borderColor: palette[i % palette.length], spanGaps: true};
      })
    },
    options: {
      responsive: true, maintainAspectRatio: false, animation: false,
      scales: {x: {stacked: spec.stacked}, y: {stacked: spec.stacked, beginAtZero: true}},
      plugins: {legend: {position: "bottom"}}
    }
  });
})();
