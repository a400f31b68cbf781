// Progressive enhancement only: every page works without it.
// Buttons with data-confirm ask before their form is sent.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var message = button && button.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
