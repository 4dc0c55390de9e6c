// The kiosk camera: the page's one script. Without it (or without a camera) the form's
// file input still works. A frame from the camera becomes the form's "image" file, and the
// form is submitted; nothing is sent anywhere else and nothing is kept in the browser.
(function () {
  "use strict";
  var form = document.getElementById("capture-form");
  if (!form || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { return; }
  var video = document.getElementById("camera");
  var button = document.getElementById("take-photo");
  var input = form.querySelector("input[type=file][name=image]");
  var status = document.getElementById("camera-status");
  var stream = null;

  function stop() {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); stream = null; }
  }

  navigator.mediaDevices.getUserMedia({
    video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" }, audio: false
  }).then(function (s) {
    stream = s;
    video.srcObject = s;
    video.hidden = false;
    video.addEventListener("playing", function () {
      button.hidden = false;
      button.disabled = false;
      status.textContent = "Camera ready. Look at the camera and press \u201cTake photo\u201d.";
    });
    video.play();
  }).catch(function () {
    status.textContent = "No camera available: choose a photo file below instead.";
  });

  // Liveness (a separate component) will insert its challenge here, before the capture.
  button.addEventListener("click", function () {
    if (!video.videoWidth) { return; }
    button.disabled = true;
    var canvas = document.createElement("canvas");
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    canvas.getContext("2d").drawImage(video, 0, 0);
    canvas.toBlob(function (blob) {
      var files = new DataTransfer();
      files.items.add(new File([blob], "camera.jpg", { type: "image/jpeg" }));
      input.files = files.files;
      stop();
      status.textContent = "Photo taken. Checking\u2026";
      form.submit();
    }, "image/jpeg", 0.92);
  });
  window.addEventListener("pagehide", stop);
})();
