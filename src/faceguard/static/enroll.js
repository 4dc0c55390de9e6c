/* The enroll page: show each chosen photo with its faces boxed, and let the operator click
   the face to enroll where a photo holds several. The faces come from /enroll/faces.json
   (detection only, nothing kept); the photo itself is shown from the browser's own copy.
   The chosen box goes with the form as face_<n> (n: the photo's place in the selection). */
(function () {
  "use strict";
  var form = document.getElementById("enroll-form");
  var input = document.getElementById("image");
  var purpose = document.getElementById("purpose");
  var previews = document.getElementById("previews");
  var choices = document.getElementById("choices");
  var words = document.getElementById("words").dataset;
  var generation = 0;
  var urls = [];

  function percent(value, whole) { return (100 * value / whole) + "%"; }

  function clear() {
    generation += 1;
    urls.forEach(function (url) { URL.revokeObjectURL(url); });
    urls = [];
    previews.replaceChildren();
    choices.replaceChildren();
    // the choices offered after a refusal without JavaScript: replaced by these
    document.querySelectorAll("figure[id^=choose-]").forEach(function (f) { f.remove(); });
  }

  function choose(figure, box, hidden, caption) {
    figure.querySelectorAll(".box").forEach(function (b) { b.classList.remove("chosen"); });
    box.classList.add("chosen");
    hidden.value = box.dataset.box;
    delete figure.dataset.pending;
    caption.textContent = words.chosen;
    caption.className = "";
  }

  function draw(figure, caption, hidden, data) {
    var usable = data.faces.filter(function (f) { return f.usable; }).length;
    data.faces.forEach(function (face, i) {
      var box = document.createElement("button");
      box.type = "button";
      box.className = "box" + (face.usable ? "" : " small");
      box.style.left = percent(face.box[0], data.width);
      box.style.top = percent(face.box[1], data.height);
      box.style.width = percent(face.box[2] - face.box[0], data.width);
      box.style.height = percent(face.box[3] - face.box[1], data.height);
      box.dataset.box = face.box.join(",");
      box.setAttribute("aria-label", String(i + 1));
      var label = document.createElement("span");
      label.textContent = String(i + 1);
      box.append(label);
      box.addEventListener("click", function () { choose(figure, box, hidden, caption); });
      figure.append(box);
    });
    if (data.faces.length === 0) {
      caption.textContent = words.none;
    } else if (usable > 1) {
      caption.textContent = words.choose;
      caption.className = "ask";
      figure.dataset.pending = "1";
    } else {
      caption.textContent = words.one;
    }
    figure.dataset.faces = String(data.faces.length);
  }

  function show(file, number, current) {
    var figure = document.createElement("figure");
    figure.className = "photo";
    figure.id = "photo-" + number;
    figure.dataset.pending = "1"; // until its faces are known
    var img = document.createElement("img");
    var url = URL.createObjectURL(file);
    urls.push(url);
    img.src = url;
    img.alt = file.name;
    var caption = document.createElement("figcaption");
    caption.textContent = "…";
    figure.append(img, caption);
    previews.append(figure);
    var hidden = document.createElement("input");
    hidden.type = "hidden";
    hidden.name = "face_" + number;
    hidden.id = "face_" + number;
    choices.append(hidden);
    var body = new FormData();
    body.append("purpose", purpose.value);
    body.append("image", file);
    fetch("/enroll/faces.json", {method: "POST", body: body, credentials: "same-origin",
                                 headers: {"Accept": "application/json"}})
      .then(function (response) {
        return response.json().then(function (data) { return {ok: response.ok, data: data}; });
      })
      .then(function (answer) {
        if (current !== generation) { return; }
        delete figure.dataset.pending;
        if (!answer.ok) {
          caption.textContent = words.failed + " " + (answer.data.detail || "") +
            (answer.data.rule ? " (" + answer.data.rule + ")" : "");
          caption.className = "ask";
          return;
        }
        draw(figure, caption, hidden, answer.data);
      })
      .catch(function (error) {
        if (current !== generation) { return; }
        delete figure.dataset.pending;
        caption.textContent = words.failed + " " + error;
      });
  }

  function refresh() {
    clear();
    var current = generation;
    Array.prototype.forEach.call(input.files, function (file, i) { show(file, i + 1, current); });
  }

  input.addEventListener("change", refresh);
  purpose.addEventListener("change", function () { if (input.files.length) { refresh(); } });
  form.addEventListener("submit", function (event) {
    if (previews.querySelector("[data-pending]")) {
      event.preventDefault();
      var help = document.getElementById("faces-help");
      help.textContent = words.missing;
      help.className = "bad";
    }
  });
}());
