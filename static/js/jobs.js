// Follows a batch's progress on its page (/admin/jobs/batches/<id>) until it finishes.
(function () {
  "use strict";
  var box = document.querySelector("[data-progress-url]");
  if (!box || !window.fetch) { return; }
  var url = box.getAttribute("data-progress-url");
  var bar = box.querySelector("progress");
  var text = box.querySelector("[data-progress-text]");
  function look() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { if (!r.ok) { throw new Error(r.status); } return r.json(); })
      .then(function (p) {
        bar.max = p.total || 1;
        bar.value = p.total ? p.done + p.failed : 1;
        text.textContent = p.text;
        if (!p.finished) { window.setTimeout(look, 2000); }
      })
      .catch(function () { /* keep the last figures; reloading the page shows the latest */ });
  }
  window.setTimeout(look, 2000);
})();
