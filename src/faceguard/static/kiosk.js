// The kiosk camera: the page's one script. Two modes, chosen by the page:
//
// - "#capture-form" (liveness not required): a frame from the camera becomes the form's
//   "image" file and the form is submitted; without this script (or a camera) the file
//   input still works.
// - "#live-form" (liveness required, R26): a challenge is fetched, its movements shown one
//   by one with a countdown after its screen colours (the whole screen takes each colour of
//   the challenge in turn, timed from the first frame, while the person looks at it), the
//   camera filmed (unmirrored JPEGs from a canvas, each with its
//   performance.now() time) and the frames sent with the challenge ID; the outcome is shown,
//   with a new attempt (and a fresh challenge) where one can help.
//
// Nothing is sent anywhere else and nothing is kept in the browser.
(function () {
  "use strict";

  // the page's words in its language (#kiosk-words, from the catalogue); English otherwise
  var words = document.getElementById("kiosk-words");
  var WORDS = words ? JSON.parse(words.textContent) : {};
  function t(text) { return WORDS[text] || text; }

  var MAX_SIDE = 640;        // frames are scaled down to this width at most
  var JPEG_QUALITY = 0.85;
  var LEAD_MS = 2500;        // "get ready" countdown while the camera starts
  var BASELINE_MS = 1000;    // facing the camera before the first movement (after colours)
  var STEP_MS = 2200;        // per movement, out and back (shortened to fit the challenge)
  var TAIL_MS = 500;         // facing the camera again after the last movement
  var SEND_MARGIN_MS = 2000; // kept for sending the frames before the challenge expires
  var MAX_FPS = 12;
  var MIN_STEP_MS = 1200;    // shorter than this per movement: start again instead

  function openCamera() {
    return navigator.mediaDevices.getUserMedia({
      video: { width: { ideal: 640 }, height: { ideal: 480 }, facingMode: "user" },
      audio: false
    });
  }

  function stopStream(stream) {
    if (stream) { stream.getTracks().forEach(function (t) { t.stop(); }); }
  }

  // ---- photo mode (liveness not required) -----------------------------------------------

  function photoMode(form) {
    var video = document.getElementById("camera");
    var button = document.getElementById("take-photo");
    var input = form.querySelector("input[type=file][name=image]");
    var status = document.getElementById("camera-status");
    var stream = null;

    openCamera().then(function (s) {
      stream = s;
      video.srcObject = s;
      video.hidden = false;
      video.addEventListener("playing", function () {
        button.hidden = false;
        button.disabled = false;
        status.textContent = t("Camera ready. Look at the camera and press \u201cTake photo\u201d.");
      });
      video.play();
    }).catch(function () {
      status.textContent = t("No camera available: choose a photo file below instead.");
    });

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
        stopStream(stream);
        stream = null;
        status.textContent = t("Photo taken. Checking\u2026");
        form.submit();
      }, "image/jpeg", 0.92);
    });
    window.addEventListener("pagehide", function () { stopStream(stream); });
  }

  // ---- live mode (liveness required, R26) -----------------------------------------------

  function liveMode(form) {
    var el = function (id) { return document.getElementById(id); };
    var video = el("camera"), status = el("camera-status"), prompt = el("live-prompt");
    var steps = el("live-instructions"), start = el("live-start"), retry = el("live-retry");
    var outcome = el("live-outcome"), flash = el("live-flash");
    var externalId = form.elements.namedItem("external_id").value;
    var purposes = Array.prototype.map.call(
      form.querySelectorAll("input[name=purpose]"), function (i) { return i.value; });
    var stream = null;
    var busy = false;

    function say(text) { status.textContent = text; }

    function postJSON(url, body) {
      return fetch(url, {
        method: "POST", credentials: "same-origin",
        headers: { "Content-Type": "application/json", "Accept": "application/json" },
        body: JSON.stringify(body)
      }).then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          return { ok: response.ok, status: response.status, data: data };
        });
      });
    }

    function showSteps(instructions) {
      steps.textContent = "";
      instructions.forEach(function (text, i) {
        var li = document.createElement("li");
        li.textContent = text;
        li.dataset.step = String(i);
        steps.appendChild(li);
      });
      steps.hidden = false;
    }

    function markStep(index) {
      Array.prototype.forEach.call(steps.children, function (li, i) {
        li.className = i < index ? "done" : (i === index ? "now" : "");
        if (i === index) { li.setAttribute("aria-current", "step"); }
        else { li.removeAttribute("aria-current"); }
      });
    }

    // The screen colours: facing the camera, from the first frame (the server times them so).
    function colourPhase(challenge) {
      var colours = challenge.colours || [];
      return colours.length ? challenge.colour_start_ms + colours.length * challenge.colour_ms +
        200 : 0;
    }

    // Show each colour of the challenge at its time after firstAt (a performance.now() time).
    function showColours(challenge, firstAt) {
      var timers = [];
      var colours = challenge.colours || [];
      function paint(colour) {
        flash.hidden = !colour;
        flash.style.background = colour ? colour.rgb : "";
        document.body.dataset.flash = colour ? colour.name : "";
      }
      colours.forEach(function (colour, i) {
        var at = firstAt + challenge.colour_start_ms + i * challenge.colour_ms;
        timers.push(setTimeout(function () { paint(colour); },
                               Math.max(0, at - performance.now())));
      });
      var end = firstAt + challenge.colour_start_ms + colours.length * challenge.colour_ms;
      timers.push(setTimeout(function () { paint(null); }, Math.max(0, end - performance.now())));
      return function () { timers.forEach(clearTimeout); paint(null); };
    }

    // How long to film and how often, within the challenge's limits.
    function planFor(challenge, startedAt, receivedAt) {
      var count = challenge.movements.length;
      var baseline = colourPhase(challenge) + BASELINE_MS;
      var left = challenge.expires_in_ms - (startedAt - receivedAt) - SEND_MARGIN_MS;
      var budget = Math.min(challenge.max_capture_ms - 300, left);
      var step = Math.min(STEP_MS, (budget - baseline - TAIL_MS) / count);
      var total = baseline + step * count + TAIL_MS;
      // faster while the colours are shown (every colour needs frames of its own), then the
      // frames left spread over the movements
      var colours = colourPhase(challenge);
      var fast = colours ? Math.max(1000 / MAX_FPS, challenge.colour_ms / 2.5) : 0;
      var left = challenge.max_frames - 4 - (colours ? Math.ceil(colours / fast) : 0);
      var interval = Math.max(1000 / MAX_FPS, (total - colours) / Math.max(left, 8));
      return { step: step, total: total, interval: interval, maxFrames: challenge.max_frames,
               baseline: baseline, colours: colours, fast: fast };
    }

    function snapshot(canvas, context) {
      var scale = Math.min(1, MAX_SIDE / video.videoWidth);
      var w = Math.round(video.videoWidth * scale), h = Math.round(video.videoHeight * scale);
      if (canvas.width !== w || canvas.height !== h) { canvas.width = w; canvas.height = h; }
      context.drawImage(video, 0, 0, w, h);  // the camera's own orientation: unmirrored
      var url = canvas.toDataURL("image/jpeg", JPEG_QUALITY);
      return url.slice(url.indexOf(",") + 1);
    }

    // Film for plan.total ms from now: one frame per new camera frame, plan.interval apart.
    function film(challenge, plan) {
      var canvas = document.createElement("canvas");
      var context = canvas.getContext("2d");
      var frames = [];
      var begin = performance.now();
      var until = begin + plan.total;
      var last = -Infinity;
      var stopColours = function () {};
      return new Promise(function (resolve) {
        var finished = false;
        function finish() {
          if (!finished) {
            finished = true; clearInterval(clock); stopColours(); resolve(frames);
          }
        }
        function grab() {
          var now = performance.now();
          if (now >= until) { finish(); return; }
          var every = now - begin < plan.colours ? plan.fast : plan.interval;
          if (now - last >= every - 8 && frames.length < plan.maxFrames) {
            last = now;
            if (!frames.length) { stopColours = showColours(challenge, now); }
            frames.push({ t_ms: Math.round(now), jpeg: snapshot(canvas, context) });
          }
        }
        // the prompt: face the camera, then each movement with its countdown
        var clock = setInterval(function () {
          var elapsed = performance.now() - begin;
          if (elapsed < plan.baseline) {
            markStep(-1);
            prompt.textContent = elapsed < colourPhase(challenge)
              ? t("Look straight at the screen while it changes colour")
              : t("Look straight at the camera");
            return;
          }
          var index = Math.floor((elapsed - plan.baseline) / plan.step);
          if (index >= challenge.instructions.length) {
            markStep(challenge.instructions.length);
            prompt.textContent = t("Look straight at the camera");
            return;
          }
          var remaining = plan.step - (elapsed - plan.baseline - index * plan.step);
          markStep(index);
          prompt.textContent = challenge.instructions[index] + " " +
            Math.max(1, Math.ceil(remaining / 1000));
        }, 100);
        if (video.requestVideoFrameCallback) {
          var tick = function () { grab(); if (!finished) { video.requestVideoFrameCallback(tick); } };
          video.requestVideoFrameCallback(tick);
        } else {
          var timer = setInterval(function () { grab(); if (finished) { clearInterval(timer); } },
                                  Math.max(20, plan.interval / 3));
        }
        setTimeout(finish, plan.total + 50);  // on time even if the camera stalls
      });
    }

    function countdown(ms) {
      return new Promise(function (resolve) {
        var end = performance.now() + ms;
        (function tick() {
          var left = end - performance.now();
          if (left <= 0) { resolve(); return; }
          prompt.textContent = t("Get ready: look straight at the camera") + " " + Math.ceil(left / 1000);
          setTimeout(tick, 100);
        })();
      });
    }

    function showOutcome(result) {
      busy = false;
      stopStream(stream);
      stream = null;
      video.hidden = true;
      prompt.textContent = "";
      steps.hidden = true;
      outcome.hidden = false;
      var list = el("live-enrollments");
      list.textContent = "";
      var rule = el("live-rule");
      if (result.ok) {
        el("live-title").textContent = "Done: face recognition is set up for you";
        outcome.dataset.outcome = "enrolled";
        el("live-message").textContent = result.data.message;
        (result.data.enrollments || []).forEach(function (e) {
          var li = document.createElement("li");
          li.textContent = "For " + e.purpose.replace(/-/g, " ") + ": kept until " +
            e.expires_at.slice(0, 10) + ", then erased automatically.";
          list.appendChild(li);
        });
        rule.hidden = true;
        retry.hidden = true;
        say("");
        return;
      }
      var data = result.data || {};
      var errors = data.errors || [];
      var codes = errors.map(function (e) { return e.code; }).filter(Boolean);
      var locked = errors.some(function (e) { return e.decision === "locked"; });
      outcome.dataset.outcome = "refused";
      el("live-title").textContent = t("You are not enrolled");
      el("live-message").textContent = data.detail || t("Something went wrong. Please try again.");
      if (data.rule) {
        rule.querySelector(".rule").textContent = data.rule;
        el("live-reasons").textContent = codes.length ? " \u00b7 " + t("reason:") + " " + codes.join(", ") : "";
        rule.hidden = false;
      } else {
        rule.hidden = true;
      }
      var fixable = result.retry || data.rule === "R26" ||
        [413, 415, 422].indexOf(result.status) >= 0;
      retry.hidden = locked || !fixable;
      say(retry.hidden ? t("Please use one of the other ways in, or ask the staff.")
                       : t("Press \u201cTry again\u201d for a new check."));
    }

    function attempt() {
      if (busy) { return; }
      busy = true;
      start.hidden = true;
      retry.hidden = true;
      outcome.hidden = true;
      say(t("Preparing the check\u2026"));
      var stage = "asking";
      postJSON(form.dataset.challengeUrl, { external_id: externalId }).then(function (asked) {
        if (!asked.ok) { showOutcome(asked); return; }
        var challenge = asked.data;
        var receivedAt = performance.now();
        form.dataset.challengeId = challenge.challenge_id;
        showSteps(challenge.instructions);
        var camera = openCamera().then(function (s) {
          stream = s;
          video.srcObject = s;
          video.hidden = false;
          return video.play();
        });
        stage = "camera";
        return Promise.all([camera, countdown(LEAD_MS)]).then(function () {
          stage = "filming";
          var plan = planFor(challenge, performance.now(), receivedAt);
          if (plan.step < MIN_STEP_MS) {  // the camera took too long: nothing worth sending
            return null;
          }
          say(t("Recording\u2026"));
          return film(challenge, plan);
        }).then(function (frames) {
          if (frames === null) {
            return { ok: false, status: 0, data: { detail: t("The camera took too long to start. " +
              "Please try again."), errors: [] }, retry: true };
          }
          stopStream(stream);
          stream = null;
          markStep(challenge.instructions.length);
          prompt.textContent = t("Thank you. Checking\u2026 this takes a few seconds.");
          say(t("%(num)s pictures taken; checking them.").replace("%(num)s", frames.length));
          stage = "sending";
          return postJSON(form.dataset.enrollUrl, {
            external_id: externalId, purposes: purposes,
            liveness: { challenge_id: challenge.challenge_id, frames: frames }
          });
        }).then(showOutcome);
      }).catch(function () {
        var camera = stage === "camera";
        showOutcome({ ok: false, status: 0, data: { detail: camera
          ? t("The camera could not be started, so the live check cannot be done. Please " +
              "use one of the other ways in, or ask the staff.")
          : t("The service could not be reached. Please try again.") } });
        retry.hidden = camera;
      });
    }

    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia || !window.fetch) {
      say(t("No camera available here, so the live check cannot be done. Please use one " +
            "of the other ways in."));
      return;
    }
    say(t("When you are ready, press \u201cStart the live check\u201d."));
    start.hidden = false;
    start.addEventListener("click", attempt);
    retry.addEventListener("click", attempt);
    window.addEventListener("pagehide", function () { stopStream(stream); });
  }

  var live = document.getElementById("live-form");
  var photo = document.getElementById("capture-form");
  if (live) { liveMode(live); }
  else if (photo && navigator.mediaDevices && navigator.mediaDevices.getUserMedia) {
    photoMode(photo);
  }
})();
