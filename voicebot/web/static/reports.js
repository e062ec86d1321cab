// The reports page: draws each report's chart with the vendored Chart.js from the JSON beside its canvas
// (web/reports.py builds it; the table under each chart has the same figures).
"use strict";
for (const canvas of document.querySelectorAll("canvas[data-chart]")) {
  const spec = JSON.parse(document.getElementById(canvas.dataset.chart).textContent);
  const bar = spec.kind === "bar";
  new Chart(canvas, {
    type: spec.kind,
    data: { labels: spec.labels, datasets: spec.datasets },
    options: {
      animation: false,
      maintainAspectRatio: false,
      scales: bar ? {
        x: { stacked: spec.stacked },
        y: {
          stacked: spec.stacked,
          beginAtZero: true,
          max: spec.scale === "rate" ? 1 : undefined,
          ticks: { precision: spec.scale === "count" ? 0 : undefined },
        },
      } : {},
    },
  });
  canvas.dataset.drawn = "true";
}
