// talent.yoga's own script: small enhancements on top of htmx. Every page works without it.
"use strict";

// After a boosted navigation (htmx swapped the body), move the focus to the main content, as a full page load
// would for a screen reader, and not to the top of a stale page.
document.addEventListener("htmx:afterSettle", function (event) {
  var detail = event.detail || {};
  if (detail.boosted && detail.elt === document.body) {
    var main = document.getElementById("main");
    if (main) { main.focus({ preventScroll: false }); }
  }
});

// Forms marked data-confirm="question" ask before they are sent (deleting a draft, an entry, the account).
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form && form.getAttribute && form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
    event.stopImmediatePropagation();
  }
}, true);
