// Progressive enhancement only: every page works without it.
// Buttons with data-confirm ask before their form is sent.
document.addEventListener("submit", function (event) {
  var button = event.submitter;
  var message = button && button.getAttribute("data-confirm");
  if (message && !window.confirm(message)) { event.preventDefault(); }
});
// Buttons with data-copy="ID" copy the text of element ID (a DNS record) to the clipboard.
document.addEventListener("click", function (event) {
  var button = event.target.closest && event.target.closest("button[data-copy]");
  var source = button && document.getElementById(button.getAttribute("data-copy"));
  if (source && navigator.clipboard) { navigator.clipboard.writeText(source.textContent); }
});
