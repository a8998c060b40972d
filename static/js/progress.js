// Progress without accounts: what this browser has solved, kept in localStorage under "wsk.": finished lessons
// ("wsk.lesson.<id>" = "done", written by player.js) and solved challenges ("wsk.challenge.<id>", the best win as
// JSON). This script records wins the server marked on the page, marks the course and the gallery, and exports
// and imports the whole of it as a file. An import is checked completely before anything is written, and merges:
// it never removes progress, and a better score already here is kept.
(function () {
  "use strict";
  var FORMAT = "wsk-close-progress";
  var MAX_FILE = 256 * 1024;
  var ID = /^[a-z0-9][a-z0-9-]{0,63}$/;
  var SCHEDULE = /^([A-Za-z0-9_-]{1,48}(\.[A-Za-z0-9_-]{1,48})*)?$/;
  // The link version completion links are written in: app/web/links.py's LINK_VERSION (a test keeps them equal). A
  // stored win's schedule needs no version of its own: no challenge plays a scenario whose links changed meaning.
  var LINK_VERSION = 2;
  var CHOICES = /^[A-Za-z0-9_]{1,32}:[a-z0-9-]{1,64}(,[A-Za-z0-9_]{1,32}:[a-z0-9-]{1,64}){0,7}$/;

  function get(key) { try { return localStorage.getItem("wsk." + key); } catch (e) { return null; } }
  function set(key, value) { try { localStorage.setItem("wsk." + key, value); return true; } catch (e) { return false; } }
  function keys(prefix) {
    var found = [];
    try {
      for (var i = 0; i < localStorage.length; i++) {
        var k = localStorage.key(i);
        if (k && k.indexOf("wsk." + prefix) === 0) found.push(k.slice(("wsk." + prefix).length));
      }
    } catch (e) { /* storage unavailable: nothing kept */ }
    return found.filter(function (id) { return ID.test(id); }).sort();
  }

  function count(n) { return typeof n === "number" && Math.floor(n) === n && n >= 0 && n <= 2000; }
  // What is wrong with a challenge entry, or "" when it is a well-formed win.
  function entryProblem(entry) {
    if (!entry || typeof entry !== "object" || Array.isArray(entry)) return "is not an object";
    var fields = Object.keys(entry).sort().join(",");
    if (fields === "choices") return CHOICES.test(entry.choices) ? "" : "has 'choices' that are not slot:option pairs";
    if (fields !== "hints,preemptions,schedule,steps") {
      return "must have either 'steps', 'preemptions', 'schedule' and 'hints', or 'choices' (it has: " + (fields || "nothing") + ")";
    }
    if (!count(entry.steps) || !count(entry.preemptions) || !count(entry.hints)) return "has a count that is not a whole number from 0 to 2000";
    if (typeof entry.schedule !== "string" || entry.schedule.length > 40000 || !SCHEDULE.test(entry.schedule)) return "has a schedule that is not action ids joined by '.'";
    return "";
  }
  function challenge(id) {
    try { var entry = JSON.parse(get("challenge." + id)); return entryProblem(entry) ? null : entry; } catch (e) { return null; }
  }
  // Whether win a is better than win b: fewer steps, then fewer preemptions; a design is as good as any other.
  function better(a, b) {
    if (!b) return true;
    if (a.choices !== undefined || b.choices !== undefined) return false;
    return a.steps < b.steps || (a.steps === b.steps && a.preemptions < b.preemptions);
  }
  function keep(id, entry) { if (better(entry, challenge(id))) set("challenge." + id, JSON.stringify(entry)); }

  function completionUrl(id, entry) {
    if (entry.choices !== undefined) {
      return "/challenges/" + id + "/won?" + entry.choices.split(",").map(function (p) { return "c=" + encodeURIComponent(p); }).join("&");
    }
    return "/challenges/" + id + "/won?v=" + LINK_VERSION + "&s=" + encodeURIComponent(entry.schedule).replace(/%2E/g, ".");
  }

  // The server marks a won step (or a design proven safe) with data-challenge-won; remember the best one.
  function recordWins() {
    document.querySelectorAll("[data-challenge-won]").forEach(function (el) {
      var id = el.getAttribute("data-challenge-won");
      if (!ID.test(id)) return;
      var entry = el.hasAttribute("data-choices")
        ? { choices: el.getAttribute("data-choices") }
        : { steps: +el.getAttribute("data-steps"), preemptions: +el.getAttribute("data-preemptions"),
            schedule: el.getAttribute("data-schedule") || "", hints: +el.getAttribute("data-hints") };
      if (!entryProblem(entry)) keep(id, entry);
    });
  }

  function markPage() {
    document.querySelectorAll("[data-challenge]").forEach(function (card) {
      var id = card.getAttribute("data-challenge");
      var entry = challenge(id);
      var mark = card.querySelector(".done-mark");
      if (mark) {
        mark.hidden = !entry;
        if (entry) mark.textContent = "\u2713 solved" + (entry.steps !== undefined ? " in " + entry.steps + " steps, " + entry.preemptions + " preemption(s)" : "");
      }
      var link = card.querySelector(".completion");
      if (link) { link.hidden = !entry; if (entry) link.href = completionUrl(id, entry); }
    });
    document.querySelectorAll("[data-lesson]").forEach(function (card) {
      var mark = card.querySelector(".done-mark");
      if (mark) mark.hidden = get("lesson." + card.getAttribute("data-lesson")) !== "done";
    });
    var summary = document.getElementById("progress-summary");
    if (summary) {
      var lessons = (summary.getAttribute("data-lessons") || "").split(" ").filter(Boolean);
      var challenges = (summary.getAttribute("data-challenges") || "").split(" ").filter(Boolean);
      var doneLessons = lessons.filter(function (id) { return get("lesson." + id) === "done"; }).length;
      var doneChallenges = challenges.filter(function (id) { return challenge(id); }).length;
      var text = summary.querySelector(".progress-text");
      if (text) {
        text.textContent = doneLessons || doneChallenges
          ? "Your progress in this browser: " + doneLessons + " of " + lessons.length + " lessons finished, " + doneChallenges + " of " + challenges.length + " challenges solved."
          : "Nothing solved yet in this browser: your progress is kept here, with no account.";
      }
    }
  }

  function say(text, bad) {
    var box = document.getElementById("progress-message");
    if (!box) return;
    box.textContent = text;
    box.classList.toggle("bad", !!bad);
  }

  function exportProgress() {
    var data = { format: FORMAT, version: 1, exported: new Date().toISOString(), lessons: {}, challenges: {} };
    keys("lesson.").forEach(function (id) { if (get("lesson." + id) === "done") data.lessons[id] = "done"; });
    keys("challenge.").forEach(function (id) { var e = challenge(id); if (e) data.challenges[id] = e; });
    var blob = new Blob([JSON.stringify(data, null, 1)], { type: "application/json" });
    var a = document.createElement("a");
    a.href = URL.createObjectURL(blob);
    a.download = "wsk-close-progress-" + data.exported.slice(0, 10) + ".json";
    document.body.appendChild(a);
    a.click();
    a.remove();
    setTimeout(function () { URL.revokeObjectURL(a.href); }, 1000);
    say("Exported " + Object.keys(data.lessons).length + " lesson(s) and " + Object.keys(data.challenges).length + " challenge(s) to " + a.download + ".");
  }

  // Everything wrong with a parsed file, in one sentence; "" if it can be imported.
  function fileProblem(data) {
    if (!data || typeof data !== "object" || Array.isArray(data)) return "it holds no object";
    if (data.format !== FORMAT) return "it is not a progress file of this site (its 'format' is not '" + FORMAT + "')";
    if (data.version !== 1) return "it is version " + String(data.version).slice(0, 12) + " of the progress format, and this site reads version 1";
    var extra = Object.keys(data).filter(function (k) { return ["format", "version", "exported", "lessons", "challenges"].indexOf(k) < 0; });
    if (extra.length) return "it has a field this format does not know: '" + extra[0].slice(0, 40) + "'";
    var lessons = data.lessons || {}, challenges = data.challenges || {};
    if (typeof lessons !== "object" || Array.isArray(lessons)) return "'lessons' is not an object of lesson ids";
    if (typeof challenges !== "object" || Array.isArray(challenges)) return "'challenges' is not an object of challenge ids";
    var ids = Object.keys(lessons);
    for (var i = 0; i < ids.length; i++) {
      if (!ID.test(ids[i])) return "'" + ids[i].slice(0, 40) + "' is not a lesson id";
      if (lessons[ids[i]] !== "done") return "lesson '" + ids[i] + "' is not marked \"done\"";
    }
    ids = Object.keys(challenges);
    for (i = 0; i < ids.length; i++) {
      if (!ID.test(ids[i])) return "'" + ids[i].slice(0, 40) + "' is not a challenge id";
      var why = entryProblem(challenges[ids[i]]);
      if (why) return "challenge '" + ids[i] + "' " + why;
    }
    return "";
  }

  function importProgress(file) {
    if (!file) return;
    if (file.size > MAX_FILE) { say("Nothing was imported, and your progress is as it was: " + file.name + " is larger than 256 KB, which no progress file is.", true); return; }
    var reader = new FileReader();
    reader.onerror = function () { say("Nothing was imported: the file could not be read.", true); };
    reader.onload = function () {
      var data;
      try { data = JSON.parse(String(reader.result)); }
      catch (e) { say("Nothing was imported, and your progress is as it was: " + file.name + " is not JSON (" + e.message + ").", true); return; }
      var problem = fileProblem(data);
      if (problem) { say("Nothing was imported, and your progress is as it was: " + problem + ".", true); return; }
      var lessons = Object.keys(data.lessons || {}), challenges = Object.keys(data.challenges || {});
      lessons.forEach(function (id) { set("lesson." + id, "done"); });
      challenges.forEach(function (id) { keep(id, data.challenges[id]); });
      markPage();
      say("Imported " + lessons.length + " lesson(s) and " + challenges.length + " challenge(s) from " + file.name + ". Nothing was removed, and better scores already here were kept.");
    };
    reader.readAsText(file);
  }

  function refresh() { recordWins(); markPage(); }
  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("#progress-export")) exportProgress();
  });
  document.addEventListener("change", function (event) {
    if (event.target.id === "progress-import") { importProgress(event.target.files && event.target.files[0]); event.target.value = ""; }
  });
  document.addEventListener("htmx:afterSettle", refresh);
  document.addEventListener("DOMContentLoaded", refresh);
})();
