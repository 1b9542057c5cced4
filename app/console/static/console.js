// Small helpers for the console's forms: confirmation of revocations and the seal image preview.
"use strict";
document.addEventListener("click", function (event) {
  var button = event.target.closest("[data-confirm]");
  if (button && !window.confirm(button.dataset.confirm)) event.preventDefault();
});

(function sealPreview() {
  var img = document.getElementById("seal-preview");
  if (!img) return;
  var file = document.getElementById("seal-image");
  var fields = ["seal-name", "seal-template", "seal-text", "seal-width", "seal-height"].map(function (id) {
    return document.getElementById(id);
  });
  var timer = null;
  function size() {
    var w = document.getElementById("seal-width").value, h = document.getElementById("seal-height").value;
    document.getElementById("preview-size").textContent = w + " × " + h + " mm";
    img.style.width = (w * 4) + "px";
    img.style.height = (h * 4) + "px";
  }
  function fromTemplate() {
    if (file.files.length) return;
    var q = new URLSearchParams({
      name: document.getElementById("seal-name").value || "?",
      template: document.getElementById("seal-template").value,
      text: document.getElementById("seal-text").value
    });
    img.src = img.dataset.templateUrl + "?" + q.toString();
  }
  function update() {
    size();
    clearTimeout(timer);
    timer = setTimeout(fromTemplate, 300);
  }
  file.addEventListener("change", function () {
    if (!file.files.length) return update();
    var reader = new FileReader();
    reader.onload = function () { img.src = reader.result; size(); };
    reader.readAsDataURL(file.files[0]);
  });
  fields.forEach(function (f) { f.addEventListener("input", update); });
  update();
})();
