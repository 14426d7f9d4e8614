// The sign-in dialog of the product page.
document.addEventListener("DOMContentLoaded", function () {
  var dialog = document.getElementById("dialog");
  var open = document.querySelector("[data-opens=dialog]");
  var close = document.getElementById("close-dialog");
  if (open) { open.addEventListener("click", function () { dialog.showModal(); }); }
  close.addEventListener("click", function () { dialog.close(); });
});
