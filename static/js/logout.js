/* Logging out on a shared computer leaves no writing behind: the copies of unsent
   answers that drafts.js keeps on this device (localStorage, "lms-draft:..." keys) are
   removed when a "Log out" form is sent. The server keeps its own copy of each draft.
   Loaded as a file: the Content-Security-Policy forbids inline script. */
(function () {
  "use strict";
  function forgetDrafts() {
    try {
      for (var i = localStorage.length - 1; i >= 0; i -= 1) {
        var key = localStorage.key(i);
        if (key && key.indexOf("lms-draft:") === 0) { localStorage.removeItem(key); }
      }
    } catch (e) { /* storage unavailable: nothing was kept */ }
  }
  var forms = document.querySelectorAll("form[data-logout]");
  for (var i = 0; i < forms.length; i += 1) {
    forms[i].addEventListener("submit", forgetDrafts);
  }
}());
