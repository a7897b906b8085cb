// Export job page: polls the job's JSON endpoint and updates the progress bar until it finishes.
// No inline scripts (CSP); the endpoint URL comes from data-status-url.
(function () {
  "use strict";
  var box = document.getElementById("export-job");
  if (!box || box.dataset.finished === "1") { return; }
  var url = box.dataset.statusUrl;
  var delay = 1000;

  function field(name) { return box.querySelector('[data-field="' + name + '"]'); }

  function show(data) {
    field("status_label").textContent = data.status_label;
    field("processed").textContent = data.processed;
    field("total").textContent = data.total;
    field("percent").value = data.percent;
    field("percent").textContent = data.percent + "%";
    field("error").textContent = data.error || "";
    if (data.download_url) {
      field("download_url").href = data.download_url;
      field("expires_at").textContent = data.expires_at || "";
      box.querySelector('[data-when="download"]').hidden = false;
    }
    box.querySelector('[data-when="expired"]').hidden = data.status !== "expired";
  }

  function poll() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) {
        if (!response.ok) { throw new Error(response.status); }
        return response.json();
      })
      .then(function (data) {
        show(data);
        if (!data.finished) { window.setTimeout(poll, delay); }
      })
      .catch(function () {
        delay = Math.min(delay * 2, 15000);  // server busy or offline: back off, keep trying
        window.setTimeout(poll, delay);
      });
  }
  window.setTimeout(poll, delay);
})();
