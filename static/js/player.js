// The stage's small island of script. It only presses the server-rendered buttons of the player's form, so the
// server stays the one deciding what is legal. It does what the platform cannot: keys (arrows, Home/End, Space,
// digits, ?), autoplay, copying the link, and keeping each region's current item in view.
(function () {
  "use strict";
  var playing = false;
  var timer = null;
  var stoppedAtBug = false;   // playing stopped because a rule broke at this step; Play now reads Continue
  var playAfterSwap = false;  // "Show me the bug" was clicked: play the demo once it has loaded
  var busy = false;           // a step request is in flight
  // Steps asked for while one is in flight: each is found again in the stage that answers the one before, so five
  // quick presses of the right arrow take five steps, whatever the server answers in between.
  var queue = [];

  function player() { return document.getElementById("player"); }
  function byId(id) { return function () { return document.getElementById(id); }; }
  function pref(name, fallback) { try { return localStorage.getItem("wsk." + name) || fallback; } catch (e) { return fallback; } }
  function save(name, value) { try { localStorage.setItem("wsk." + name, value); } catch (e) { /* private mode */ } }

  function overlayOpen() {
    try { return !!document.querySelector("dialog[open], :popover-open"); }
    catch (e) { return !!document.querySelector("dialog[open]"); }  // a browser without popovers
  }

  function usable(el) { return el && el.getAttribute("aria-disabled") !== "true"; }

  // Press a control now, or after the step in flight has landed.
  function ask(find) {
    queue.push(find);
    if (!busy) next();
  }
  function next() {
    while (queue.length) {
      var el = queue.shift()();
      if (!usable(el)) continue;   // e.g. Forward at the end of a run that cannot go on
      busy = true;
      if (window.htmx) el.click(); else if (el.href) window.location.href = el.href; else el.click();
      return true;
    }
    return false;
  }

  function nextStep() {
    return document.getElementById(pref("scheduler", "round-robin") === "random" ? "next-random" : "next-round-robin");
  }

  function syncControls() {
    var button = document.getElementById("ctl-play");
    if (button) {
      button.setAttribute("aria-pressed", playing ? "true" : "false");
      button.textContent = playing ? "\u23F8 Pause" : (stoppedAtBug ? "\u25B6 Continue" : "\u25B6 Play");
    }
    var speed = document.getElementById("ctl-speed");
    if (speed) speed.value = pref("speed", "800");
    var scheduler = document.getElementById("ctl-scheduler");
    if (scheduler) scheduler.value = pref("scheduler", "round-robin");
  }

  function schedule() {
    clearTimeout(timer);
    if (!playing) return;
    timer = setTimeout(function () {
      if (!nextStep()) { playing = false; syncControls(); return; }
      ask(nextStep);
    }, parseInt(pref("speed", "800"), 10));
  }

  function toggle() { playing = !playing; stoppedAtBug = false; syncControls(); schedule(); }

  // Playing stops on a step where a rule breaks, so the learner sees the banner instead of running past it.
  function brokenHere() { return player() && player().getAttribute("data-broken-here") === "true"; }

  function toggleKeys() {
    var dialog = document.getElementById("keys");
    if (!dialog) return;
    if (dialog.open) dialog.close(); else dialog.showModal();
  }

  function copyLink() {
    var field = document.getElementById("share-link");
    var url = new URL(field ? field.value : location.href, location.href).href;
    if (field) field.value = url;
    var done = function () { var b = document.getElementById("ctl-copy"); if (b) b.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(done, function () { field.select(); });
    } else if (field) { field.select(); document.execCommand("copy"); done(); }
  }

  // Large type, for projecting in a lecture hall; remembered across pages.
  function applyLarge() {
    var on = pref("large", "0") === "1";
    document.documentElement.classList.toggle("large", on);
    var b = document.getElementById("large-type");
    if (b) b.setAttribute("aria-pressed", on ? "true" : "false");
  }

  // A mark of the space-time diagram goes to its step through the form, which holds the schedule once.
  function goToStep(at) {
    var scrub = document.getElementById("scrub");
    if (!scrub || !scrub.form) return false;
    scrub.value = at;
    scrub.form.requestSubmit();
    return true;
  }

  // Scroll a region (never the page, nor a page that embeds this one) so that an item inside it is in view.
  function reveal(region, item) {
    if (!region || !item) return;
    var r = region.getBoundingClientRect(), i = item.getBoundingClientRect();
    if (i.top < r.top || i.bottom > r.bottom) {
      region.scrollTop += (i.top - r.top) - Math.max(0, (r.height - i.height) / 2);
    }
    if (i.left < r.left || i.right > r.right) {
      region.scrollLeft += (i.left - r.left) - Math.max(0, (r.width - i.width) / 2);
    }
  }

  // Each region keeps what matters in this step in view: a lane's current line, the lane that moved, the socket
  // field or IRP card that changed, and the diagram's right end (this step).
  function showCurrent() {
    var stage = player();
    if (!stage) return;
    stage.querySelectorAll(".code-scroll").forEach(function (box) { reveal(box, box.querySelector("li.current")); });
    var row = stage.querySelector(".lane-row");
    reveal(row, row && row.querySelector(".lane.changed"));
    var board = stage.querySelector(".irp-board .columns");
    reveal(board, board && board.querySelector(".irp-card.changed"));
    var sockets = stage.querySelector(".sockets");
    reveal(sockets, sockets && sockets.querySelector("dd.changed"));
    var wsk = stage.querySelector(".wsk-context");
    reveal(wsk, wsk && wsk.querySelector(".lane.changed, .lane.status-ready"));
    var wrap = stage.querySelector(".diagram-wrap");
    if (wrap) wrap.scrollLeft = wrap.scrollWidth;
  }

  document.addEventListener("click", function (event) {
    var t = event.target;
    if (!t.closest) return;
    if (t.closest('[aria-disabled="true"]')) { event.preventDefault(); return; }
    if (t.closest("#ctl-demo")) { playAfterSwap = true; stoppedAtBug = false; }
    var mark = t.closest("svg.diagram [data-at]");
    if (mark && goToStep(mark.getAttribute("data-at"))) { event.preventDefault(); return; }
    var button = t.closest("button");
    if (!button) return;
    if (button.id === "large-type") { save("large", pref("large", "0") === "1" ? "0" : "1"); applyLarge(); return; }
    if (button.id === "ctl-play") toggle();
    else if (button.id === "ctl-keys") toggleKeys();
    else if (button.id === "ctl-copy") copyLink();
  });

  document.addEventListener("change", function (event) {
    if (event.target.id === "ctl-speed") save("speed", event.target.value);
    if (event.target.id === "ctl-scheduler") save("scheduler", event.target.value);
    if (event.target.id === "scrub" && event.target.form) event.target.form.requestSubmit();
  });

  document.addEventListener("keydown", function (event) {
    if (!player() || event.ctrlKey || event.metaKey || event.altKey) return;
    var el = event.target;
    if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))) return;
    if (overlayOpen()) return;  // keys belong to the dialog or popover that is open
    var handled = true;
    switch (event.key) {
      case "ArrowLeft": ask(byId("ctl-back")); break;
      case "ArrowRight": ask(byId("ctl-forward")); break;
      case "Home": ask(byId("ctl-first")); break;
      case "End": ask(byId("ctl-last")); break;
      case " ": case "Spacebar":
        if (el && /^(BUTTON|A|SUMMARY)$/.test(el.tagName) && el.id !== "ctl-play") { handled = false; break; }
        toggle(); break;
      case "?": toggleKeys(); break;
      default:
        if (/^[1-9]$/.test(event.key)) {
          var key = event.key;
          ask(function () { return player() && player().querySelector('button.action[data-key="' + key + '"]'); });
        } else { handled = false; }
    }
    if (handled) event.preventDefault();  // never scroll the page
  });

  // A step swaps #player by morphing it, so focus, open popovers and each region's scroll stay where they are.
  // The focused control can still go (an action that is no longer possible): focus then moves to Forward.
  // Only a step's request and swap drive the controls and move the stage's regions: the meter and a search also
  // request and swap while they compute (every second or so), and must leave alone a step in flight, the keys
  // queued behind it, and what the user scrolled to.
  function stepSwapped(event) {
    var target = event.detail && event.detail.target;
    return !!target && target.id === "player";
  }
  // On a loaded machine the next step's answer can arrive before the last step has settled. So each step keeps
  // what it needs on its own request (its XMLHttpRequest, which every event of that request carries), and only the
  // newest step frees the keys and moves on.
  var newest = null;
  var focusFound = new WeakMap();  // a step's request -> the stage's control that had the focus before its swap
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (!stepSwapped(event)) return;
    busy = true;
    newest = event.detail.xhr;
  });
  function failed(event) {
    if (!stepSwapped(event) || event.detail.xhr !== newest) return;
    busy = false; queue = []; playing = false; syncControls();
  }
  document.addEventListener("htmx:responseError", failed);
  document.addEventListener("htmx:sendError", failed);
  document.addEventListener("htmx:sendAbort", failed);
  document.addEventListener("htmx:timeout", failed);
  // Steps queued behind this one land at once: animating each would only delay them.
  document.addEventListener("htmx:beforeTransition", function (event) { if (queue.length) event.preventDefault(); });
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (!stepSwapped(event)) return;
    var active = document.activeElement;
    focusFound.set(event.detail.xhr, active && active !== document.body && player() && player().contains(active) ? active : null);
  });
  // Before the view transition takes its picture of the new stage, so that what moves moves to where it will stay.
  document.addEventListener("htmx:afterSwap", function (event) { if (stepSwapped(event)) showCurrent(); });

  // A search's panel replaces itself as it progresses: if it held the focus (its button, or Cancel), the focus
  // moves to the new panel instead of falling back to the page.
  var searchHadFocus = new WeakSet();  // the search's requests whose swap found the focus in the search
  document.addEventListener("htmx:beforeSwap", function (event) {
    var box = document.getElementById("search-result");
    if (box && event.detail.xhr && box.contains(event.detail.target) && box.contains(document.activeElement)) {
      searchHadFocus.add(event.detail.xhr);
    }
  });
  document.addEventListener("htmx:afterSettle", function (event) {
    if (!event.detail.xhr || !searchHadFocus.has(event.detail.xhr)) return;
    if (document.activeElement && document.activeElement !== document.body) return;
    var panel = document.querySelector("#search-result .search-panel");
    if (panel) panel.focus({ preventScroll: true });
  });

  document.addEventListener("htmx:afterSettle", function (event) {
    if (!stepSwapped(event)) return;
    var kept = focusFound.get(event.detail.xhr);
    if (kept && (!document.activeElement || document.activeElement === document.body)) {
      var again = (kept.id && document.getElementById(kept.id)) || document.getElementById("ctl-forward");
      if (again) again.focus({ preventScroll: true });
    }
    if (newest && event.detail.xhr !== newest) return;  // a newer step is on its way, and it takes over from here
    newest = null;
    busy = false;
    if (playAfterSwap) { playAfterSwap = false; playing = true; }
    else if (playing && brokenHere()) { playing = false; stoppedAtBug = true; }
    else if (!brokenHere()) { stoppedAtBug = false; }
    syncControls();
    showCurrent();
    if (next()) return;
    schedule();
  });
  // Progress without accounts: a finished lesson is remembered in this browser, and the course marks it.
  function rememberProgress() {
    var stage = player();
    var done = stage && stage.getAttribute("data-lesson-done");
    if (done) save("lesson." + done, "done");
    document.querySelectorAll("[data-lesson]").forEach(function (card) {
      var mark = card.querySelector(".done-mark");
      if (mark) mark.hidden = pref("lesson." + card.getAttribute("data-lesson"), "") !== "done";
    });
  }
  document.addEventListener("htmx:afterSettle", rememberProgress);
  document.addEventListener("DOMContentLoaded", function () { applyLarge(); syncControls(); showCurrent(); rememberProgress(); });
})();
