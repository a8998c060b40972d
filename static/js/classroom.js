// The classroom's island of script: starting a class from a stage, following it live, driving it as presenter, and
// answering its questions. The server decides everything (where the class is, what is legal, what is right); this
// only moves the stage to the class's step, tells the server the presenter's steps, and keeps this browser's own
// state: the presenter key (from the presenter link's #key=, then kept out of the address bar) and a student id.
(function () {
  "use strict";

  function store(name, value) { try { localStorage.setItem("wsk." + name, value); } catch (e) { /* private mode */ } }
  function stored(name) { try { return localStorage.getItem("wsk." + name); } catch (e) { return null; } }

  // -- "Start a class" on any stage: open a room on this exact step, then present it. --------------------------
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("#start-class");
    if (!button) return;
    button.setAttribute("aria-disabled", "true");
    fetch("/api/rooms", {
      method: "POST",
      headers: { "Content-Type": "application/json", "Accept": "application/json" },
      body: JSON.stringify({ url: location.pathname + location.search })
    }).then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
      .then(function (answer) {
        button.removeAttribute("aria-disabled");
        if (answer.ok) { location.href = answer.body.presenter_url; return; }
        window.alert(answer.body.detail || "The class could not be started.");
      }, function () { button.removeAttribute("aria-disabled"); });
  });

  var room = document.querySelector("[data-room]");
  if (!room) return;
  var code = room.getAttribute("data-room");
  var role = room.getAttribute("data-role");

  // The presenter key arrives in the link's fragment (never sent to a server); it is kept in this browser and
  // taken out of the address bar at once, so that a projected address bar never shows it.
  var match = /(?:^#|&)key=([A-Za-z0-9_-]{16,200})/.exec(location.hash);
  if (match) {
    store("room." + code + ".key", match[1]);
    history.replaceState(history.state, "", location.pathname + location.search);
  }
  var key = role === "student" ? null : stored("room." + code + ".key");

  // Presenter mode is for projecting: large type, unless the presenter turns it off.
  if (role === "presenter" && stored("large") === null) store("large", "1");

  function student() {
    var id = stored("student");
    if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
      var bytes = new Uint8Array(16);
      crypto.getRandomValues(bytes);
      id = Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      store("student", id);
    }
    return id;
  }

  function api(method, path, body) {
    var headers = { "Accept": "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key) headers["X-Presenter-Key"] = key;
    return fetch("/api/rooms/" + code + path, {
      method: method, headers: headers, body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (r) {
      if (r.status === 204) return { ok: true, status: 204, body: {} };
      return r.json().then(function (b) { return { ok: r.ok, status: r.status, body: b }; },
                           function () { return { ok: r.ok, status: r.status, body: {} }; });
    });
  }

  function say(text) {
    var status = document.getElementById("room-status");
    if (!status) return;
    status.textContent = text || "";
    status.hidden = !text;
  }

  // Requests to this room carry the key (the speaker notes need it).
  document.addEventListener("htmx:configRequest", function (event) {
    if (key && event.detail.path.indexOf("/rooms/" + code) !== -1) event.detail.headers["X-Presenter-Key"] = key;
  });
  // A room page stays at its own address: the stage's steps replace nothing in the history.
  document.addEventListener("htmx:beforeHistoryUpdate", function (event) {
    event.detail.history.type = "replace";
    event.detail.history.path = location.pathname + location.search;
  });

  var stage = role === "notes" ? null : room;
  if (!stage) return;

  var here = null;        // the stage URL on this screen
  var detached = false;   // a student exploring on their own
  function classUrl() {
    var link = document.querySelector("#class-at a[data-url]");
    return link ? link.getAttribute("data-url") : null;
  }

  // Load a stage into #player: the class's step (source: the room) or the presenter's own (source: the player).
  function load(url, own) {
    if (!url || !window.htmx) return;
    var player = document.getElementById("player");
    htmx.ajax("GET", url, { source: own ? player : stage, target: "#player", select: "#player", swap: "morph" });
  }
  function fromClass(elt) { return elt === stage; }

  function badge() {
    var b = document.getElementById("follow-badge");
    var back = document.getElementById("back-to-class");
    if (!b || role !== "student") return;
    b.textContent = detached ? "On your own" : "Following the class";
    b.className = "badge " + (detached ? "own" : "following");
    if (back) back.hidden = !detached;
  }

  function follow() {
    var url = classUrl();
    if (role === "student" && detached) return;
    if (url && url !== here) load(url, false);
  }

  // A step the learner takes on their own stage: a student detaches; the presenter's moves the class.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "player" || fromClass(event.detail.elt)) return;
    if (role === "student" && !detached) { detached = true; badge(); }
  });
  // A lesson's action leaves the lesson for the player with HX-Redirect: on a room page it stays on the stage.
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail.xhr;
    var to = xhr && xhr.getResponseHeader("HX-Redirect");
    if (to) { event.preventDefault(); load(to, true); }
  });
  document.addEventListener("htmx:afterRequest", function (event) {
    var d = event.detail;
    if (!d.target || d.target.id !== "player" || !d.successful) return;
    var url = d.xhr.getResponseHeader("HX-Push-Url");
    if (!url) return;
    here = url;
    document.getElementById("player").classList.remove("room-loading");
    if (role === "presenter" && !fromClass(d.elt) && url !== classUrl()) {
      api("POST", "/step", { url: url }).then(function (answer) {
        if (answer.status === 403) say("This window cannot drive the class: open the presenter link (Invite, on the presenter's screen).");
        else if (!answer.ok) say(answer.body.detail || "The class did not move.");
        else say("");
      }, function () { say("The class did not move: the server did not answer."); });
    }
  });

  document.addEventListener("click", function (event) {
    var t = event.target.closest ? event.target.closest("button") : null;
    if (!t) return;
    if (t.id === "back-to-class") { detached = false; badge(); load(classUrl(), false); return; }
    if (t.id === "open-notes") {
      window.open("/present/" + code + "/notes#key=" + (key || ""), "wsk-notes-" + code, "popup,width=760,height=820");
      return;
    }
    var status = document.getElementById("ask-status");
    function report(answer, done) {
      if (status) status.textContent = answer.ok ? done : (answer.body.detail || "That did not work.");
    }
    if (t.hasAttribute("data-ask")) {
      api("POST", "/question", { kind: t.getAttribute("data-ask") }).then(function (a) { report(a, "Asked: " + (a.body.text || "")); });
    } else if (t.id === "reveal-answers") {
      api("POST", "/question/reveal").then(function (a) { report(a, "Revealed."); });
    } else if (t.id === "close-question") {
      api("DELETE", "/question").then(function (a) { report(a, "The question is down."); });
    }
  });

  // -- the class's question ---------------------------------------------------------------------------------
  function applyAnswered() {
    var section = document.querySelector("#room-question .room-q");
    if (!section) return;
    var qid = section.getAttribute("data-question");
    var mine = stored("answer." + code + "." + qid);
    var form = section.querySelector(".room-answer");
    if (form) {
      if (role === "presenter") { form.hidden = true; return; }
      form.hidden = !!mine;
      var sent = section.querySelector(".room-sent");
      if (sent) sent.hidden = !mine;
    }
    if (mine) {
      JSON.parse(mine).forEach(function (value) {
        var bar = section.querySelector('.bar[data-value="' + CSS.escape(value) + '"]');
        var label = bar && bar.querySelector(".mine");
        if (label) { label.hidden = false; bar.classList.add("picked"); }
      });
    }
  }

  document.addEventListener("submit", function (event) {
    var form = event.target.closest && event.target.closest(".room-answer");
    if (!form) return;
    event.preventDefault();
    var qid = form.getAttribute("data-question");
    var picks = Array.prototype.map.call(form.querySelectorAll("input[name=pick]:checked"), function (i) { return i.value; });
    if (!picks.length) { say("Pick an answer first."); return; }
    api("POST", "/answers", { question: parseInt(qid, 10), student: student(), picks: picks }).then(function (a) {
      if (a.ok || a.status === 409) {
        if (a.ok || /already answered/.test(a.body.detail || "")) store("answer." + code + "." + qid, JSON.stringify(picks));
        if (!a.ok) say(a.body.detail);
        else say("");
        applyAnswered();
      } else {
        say(a.body.detail || "Your answer did not arrive; try again.");
      }
    }, function () { say("Your answer did not arrive: the server did not answer. Try again."); });
  });

  // -- the event stream ---------------------------------------------------------------------------------------
  document.addEventListener("htmx:sseMessage", function (event) {
    var type = event.detail && event.detail.type;
    if (type === "step") follow();
    if (type === "question") applyAnswered();
  });
  document.addEventListener("htmx:sseOpen", function () { say(""); follow(); });
  document.addEventListener("htmx:sseError", function () { say("Connection lost: reconnecting to the class\u2026"); });

  document.addEventListener("DOMContentLoaded", function () {
    var link = document.getElementById("presenter-link");
    if (link && key) link.value = location.origin + "/present/" + code + "#key=" + key;
    badge();
    follow();
  });
})();
