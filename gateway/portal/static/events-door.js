/* The door's check-in with no connection: the list kept on the phone (localStorage), each
   check-in queued with an id made here and sent when online; the server counts an id once, so
   a sync repeated after a lost answer duplicates nothing. Without this script each check-in is
   a plain form. A service worker keeps the page itself for a reload while offline. */
(function () {
  "use strict";
  var door = document.getElementById("door");
  if (!door || !window.localStorage || !window.fetch) return;
  var eventId = door.getAttribute("data-event");
  var listKey = "door-list:" + eventId, queueKey = "door-queue:" + eventId;
  var state = document.getElementById("door-state"), queueNote = document.getElementById("door-queue");
  var rows = Array.prototype.slice.call(document.querySelectorAll("#door-list tr"));
  var sending = false;

  function load(key, fallback) {
    try { return JSON.parse(localStorage.getItem(key)) || fallback; } catch (e) { return fallback; }
  }
  function save(key, value) { localStorage.setItem(key, JSON.stringify(value)); }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // the list as the server gave it, merged with what this phone has marked meanwhile
  var people = load(listKey, {});
  if (!document.getElementById("door-q").value) {
    rows.forEach(function (tr) {
      var id = tr.getAttribute("data-reg"), known = people[id] || {};
      people[id] = {name: tr.getAttribute("data-name"), card: tr.getAttribute("data-card"),
                    checked: tr.classList.contains("removed") || !!known.checked};
    });
    save(listKey, people);
  }
  rows.forEach(function (tr) {
    var id = tr.getAttribute("data-reg");
    if (people[id] && people[id].checked && !tr.classList.contains("removed")) markRow(id);
  });
  function byCard(number) {
    for (var id in people) if (people[id].card && people[id].card === number) return id;
    return null;
  }
  function show(message) {
    var all = Object.keys(people), came = all.filter(function (id) { return people[id].checked; });
    state.textContent = (message ? message + ". " : "") + "Пришли " + came.length + " из " + all.length;
    var queued = load(queueKey, []).length;
    queueNote.hidden = !queued;
    queueNote.textContent = queued ? "Ждут отправки: " + queued + (navigator.onLine ? "" : " (нет связи)") : "";
  }
  function markRow(id) {
    rows.forEach(function (tr) {
      if (tr.getAttribute("data-reg") === id) {
        tr.classList.add("removed");
        var cell = tr.cells[1]; cell.textContent = "отмечен";
      }
    });
  }

  function checkIn(item, id) {
    var queue = load(queueKey, []);
    if (id && people[id] && people[id].checked) { show("Уже отмечен: " + people[id].name); return; }
    if (!id) { show("Нет в списке зарегистрированных"); }
    else { people[id].checked = true; save(listKey, people); markRow(id); show("Отмечен: " + people[id].name); }
    queue.push(item);
    save(queueKey, queue);
    sync();
  }

  function sync() {
    var queue = load(queueKey, []);
    if (sending || !queue.length || !navigator.onLine) { show(); return; }
    sending = true;
    var body = new URLSearchParams();
    body.set("csrf", door.getAttribute("data-csrf"));
    body.set("checkins", JSON.stringify(queue));
    fetch("/portal/events/" + eventId + "/checkins", {method: "POST", body: body,
                                                      credentials: "same-origin"})
      .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); })
      .then(function (results) {
        var done = {};
        results.forEach(function (r) { done[r.client_id] = r; });
        save(queueKey, load(queueKey, []).filter(function (i) { return !done[i.client_id]; }));
        sending = false;
        show("Отправлено: " + results.length);
      })
      .catch(function () { sending = false; show("Не отправлено, повторим при связи"); });
  }

  document.querySelectorAll("form[data-checkin]").forEach(function (form) {
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      var item = {client_id: newId(), scanned_at: new Date().toISOString()};
      if (form.getAttribute("data-checkin") === "card") {
        var input = form.elements.card_number, number = input.value.trim();
        if (!number) return;
        item.card_number = number; input.value = "";
        checkIn(item, byCard(number));
      } else {
        var id = form.elements.registration_id.value;
        item.registration_id = Number(id);
        checkIn(item, id);
      }
    });
  });

  // the camera where the browser reads barcodes itself (Chromium on Android)
  var scan = document.getElementById("scan");
  if ("BarcodeDetector" in window && navigator.mediaDevices) {
    scan.hidden = false;
    scan.addEventListener("click", function () {
      var video = document.getElementById("camera"), detector = new window.BarcodeDetector();
      navigator.mediaDevices.getUserMedia({video: {facingMode: "environment"}}).then(function (stream) {
        video.srcObject = stream; video.hidden = false; video.play();
        var timer = setInterval(function () {
          detector.detect(video).then(function (codes) {
            if (!codes.length) return;
            clearInterval(timer); stream.getTracks().forEach(function (t) { t.stop(); });
            video.hidden = true;
            var number = codes[0].rawValue;
            checkIn({client_id: newId(), card_number: number, scanned_at: new Date().toISOString()},
                    byCard(number));
          });
        }, 300);
      }).catch(function () { show("Камера недоступна — введите номер"); });
    });
  }

  window.addEventListener("online", sync);
  window.addEventListener("offline", function () { show("Нет связи: отметки копятся на телефоне"); });
  if ("serviceWorker" in navigator) navigator.serviceWorker.register("/portal/events/sw.js").catch(function () {});
  sync();
}());
