// Polls an import job's JSON progress endpoint and updates the bar; reloads when the job settles
// (or changes phase) so the page shows the preview, the errors or the result.
(function () {
  "use strict";
  var box = document.getElementById("import-progress");
  if (!box) { return; }
  var bar = box.querySelector("progress");
  var label = box.querySelector(".import-progress-text");
  var statusEl = document.getElementById("import-status");
  var initial = box.getAttribute("data-status");
  var delay = 1000;

  function poll() {
    fetch(box.getAttribute("data-url"), { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        return response.json();
      })
      .then(function (data) {
        if (data.percent === null) {
          bar.removeAttribute("value");  // a phase without a count: the bar runs, the label stays
        } else {
          bar.value = data.percent;
          label.textContent = data.processed + " / " + data.total;
        }
        if (statusEl) { statusEl.textContent = data.status_display; }
        if (!data.working || data.status !== initial) {
          window.location.reload();
          return;
        }
        delay = 1000;
        window.setTimeout(poll, delay);
      })
      .catch(function () {
        delay = Math.min(delay * 2, 15000);  // back off while the server is unreachable
        window.setTimeout(poll, delay);
      });
  }
  window.setTimeout(poll, delay);
}());
