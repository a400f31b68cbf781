// The import page follows a running job: it polls the job's status and updates the
// progress bar and the figures; when the job reaches its next step it reloads.
(function () {
  "use strict";
  function start() {
    var job = document.getElementById("job");
    if (!job || job.dataset.running !== "yes") { return; }
    var url = job.dataset.statusUrl, state = job.dataset.state;
    function set(id, value) {
      var el = document.getElementById(id);
      if (el) { el.textContent = Number(value).toLocaleString(); }
    }
    function poll() {
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (s) {
          if (s.state !== state || !s.running) { window.location.reload(); return; }
          var bar = document.getElementById("job-progress");
          if (bar && s.fraction !== null) { bar.value = Math.round(s.fraction * 1000) / 10; }
          set("job-count", s.state === "applying" ? s.created + s.updated + s.failed : s.rows);
          set("n-rows", s.rows); set("n-create", s.to_create); set("n-update", s.to_update);
          set("n-unchanged", s.unchanged); set("n-bad", s.rejected + s.failed);
          window.setTimeout(poll, 700);
        })
        .catch(function () { window.setTimeout(poll, 2000); });
    }
    window.setTimeout(poll, 500);
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", start); } else { start(); }
})();
