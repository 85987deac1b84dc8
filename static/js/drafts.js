/* Keeps what a trainee writes safe: autosaves drafts to the server while they type,
   keeps a copy on this device in case the session ends before the server has it,
   and restores that copy. Loaded as a file: the Content-Security-Policy forbids
   inline script. */
(function () {
  "use strict";

  function store(key, text) {
    try {
      if (text === null) { localStorage.removeItem(key); }
      else { localStorage.setItem(key, JSON.stringify({ t: text, at: Date.now() })); }
    } catch (e) { /* storage unavailable (private mode): the server copy still works */ }
  }
  function stored(key) {
    try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; }
  }

  // After a successful submission the page names the copy to forget.
  var done = document.querySelector("[data-clear-draft]");
  if (done) { store(done.getAttribute("data-clear-draft"), null); }

  var form = document.querySelector("form[data-autosave]");
  if (!form) { return; }
  var textarea = form.querySelector("textarea");
  var status = form.querySelector(".draft-status");
  var url = form.getAttribute("data-autosave");
  var key = form.getAttribute("data-storage-key");
  var serverAt = Date.parse(form.getAttribute("data-saved-at") || "") || 0;
  var token = form.querySelector("input[name=csrf_token]");
  var timer = null;
  var lastSaved = textarea.value;

  function say(text) { if (status) { status.textContent = text; } }

  // The copy on this device wins only when it is newer than the server's draft:
  // for example when the session ended before the last words reached the server.
  var local = stored(key);
  if (local && local.t && local.t !== textarea.value && local.at > serverAt) {
    textarea.value = local.t;
    say("We restored text you wrote on this device that had not been saved yet.");
  }

  function save() {
    timer = null;
    var value = textarea.value;
    if (value === lastSaved) { return; }
    var body = new URLSearchParams();
    body.set("answer", value);
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRFToken": token ? token.value : "" },
      body: body
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      lastSaved = value;
      say("Draft saved.");
    }).catch(function () {
      say("Could not save to the server just now: your text is kept on this device.");
    });
  }

  textarea.addEventListener("input", function () {
    store(key, textarea.value);
    say("Saving…");
    if (timer) { clearTimeout(timer); }
    timer = setTimeout(save, 1500);
  });
  textarea.addEventListener("blur", function () {
    if (timer) { clearTimeout(timer); save(); }
  });
  form.addEventListener("submit", function () { store(key, textarea.value); });
})();
