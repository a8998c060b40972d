// The player's small island of script. Everything it does is click server-rendered links, so the server stays the
// only one deciding what is legal: keys (arrows, Home/End, Space, digits, ?), autoplay, copy link.
(function () {
  "use strict";
  var playing = false;
  var timer = null;
  var stoppedAtBug = false;   // playing stopped because a rule broke at this step; Play now reads Continue
  var playAfterSwap = false;  // "Show me the bug" was clicked: play the demo once it has loaded

  function player() { return document.getElementById("player"); }
  var busy = false;      // a step request is in flight
  var pending = null;    // the last step asked for meanwhile (a held-down arrow key, say)

  // Go to a player URL through htmx. The server answers with HX-Push-Url, so history records every step.
  function follow(el) {
    var href = el && el.getAttribute("href");
    return href ? go(href) : false;
  }

  function go(href) {
    if (!window.htmx) { window.location.href = href; return true; }
    if (busy) { pending = href; return true; }
    busy = true;
    window.htmx.ajax("GET", href, { target: "#player", select: "#player", swap: "outerHTML transition:true" });
    return true;
  }
  function pref(name, fallback) { try { return localStorage.getItem("wsk." + name) || fallback; } catch (e) { return fallback; } }
  function save(name, value) { try { localStorage.setItem("wsk." + name, value); } catch (e) { /* private mode */ } }

  function nextLink() {
    var scheduler = pref("scheduler", "round-robin");
    return document.getElementById(scheduler === "random" ? "next-random" : "next-round-robin");
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
      if (!follow(nextLink())) { playing = false; syncControls(); }
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

  // A mark of the space-time diagram goes to its step through the scrubber form, which holds the schedule once.
  function goToStep(at) {
    var scrub = document.getElementById("scrub");
    if (!scrub || !scrub.form) return false;
    scrub.value = at;
    scrub.form.requestSubmit();
    return true;
  }

  // The diagram ends at this step: keep its right end, and so the current step, in view.
  function showCurrentStep() {
    var wrap = document.querySelector(".diagram-wrap");
    if (wrap) wrap.scrollLeft = wrap.scrollWidth;
  }

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("#ctl-demo")) { playAfterSwap = true; stoppedAtBug = false; }
    var mark = event.target.closest && event.target.closest("svg.diagram a[data-at]");
    if (mark && goToStep(mark.getAttribute("data-at"))) { event.preventDefault(); return; }
    var target = event.target.closest("button");
    if (!target) return;
    if (target.id === "large-type") { save("large", pref("large", "0") === "1" ? "0" : "1"); applyLarge(); return; }
    if (target.id === "ctl-play") toggle();
    else if (target.id === "ctl-keys") toggleKeys();
    else if (target.id === "ctl-copy") copyLink();
  });

  document.addEventListener("change", function (event) {
    if (event.target.id === "ctl-speed") save("speed", event.target.value);
    if (event.target.id === "ctl-scheduler") save("scheduler", event.target.value);
  });

  document.addEventListener("keydown", function (event) {
    if (!player() || event.ctrlKey || event.metaKey || event.altKey) return;
    var el = event.target;
    if (el && (el.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(el.tagName))) return;
    var handled = true;
    switch (event.key) {
      case "ArrowLeft": follow(document.getElementById("ctl-back")); break;
      case "ArrowRight": follow(document.getElementById("ctl-forward")); break;
      case "Home": follow(document.getElementById("ctl-first")); break;
      case "End": follow(document.getElementById("ctl-last")); break;
      case " ": case "Spacebar": toggle(); break;
      case "?": toggleKeys(); break;
      default:
        if (/^[1-9]$/.test(event.key)) {
          follow(player().querySelector('a.action[data-key="' + event.key + '"]'));
        } else { handled = false; }
    }
    if (handled) event.preventDefault();  // never scroll the page
  });

  // Stepping must never move the page: a swap that lands while the previous view transition is still running
  // can reset the scroll position, so remember it before each swap and put it back afterwards.
  var keptScroll = null;
  document.addEventListener("htmx:beforeRequest", function () { busy = true; });
  document.addEventListener("htmx:responseError", function () { busy = false; pending = null; });
  document.addEventListener("htmx:sendError", function () { busy = false; pending = null; });
  var keptFocus = null;  // the id of the focused control, to give focus back after the swap replaces it
  document.addEventListener("htmx:beforeSwap", function () {
    keptScroll = window.scrollY;
    var active = document.activeElement;
    keptFocus = active && active.id && player() && player().contains(active) ? active.id : null;
  });
  document.addEventListener("htmx:afterSwap", function () {
    if (keptScroll !== null && window.scrollY !== keptScroll) window.scrollTo(0, keptScroll);
  });

  // After every swap: keep the controls in sync and, if playing, schedule the next step.
  document.addEventListener("htmx:afterSettle", function () {
    if (keptScroll !== null && window.scrollY !== keptScroll) window.scrollTo(0, keptScroll);
    keptScroll = null;
    if (keptFocus && document.activeElement === document.body) {
      var again = document.getElementById(keptFocus);
      if (again) again.focus({ preventScroll: true });
    }
    keptFocus = null;
    busy = false;
    if (playAfterSwap) { playAfterSwap = false; playing = true; }
    else if (playing && brokenHere()) { playing = false; stoppedAtBug = true; }
    else if (!brokenHere()) { stoppedAtBug = false; }
    syncControls();
    showCurrentStep();
    if (pending) {
      var next = pending;
      pending = null;
      go(next);
      return;
    }
    schedule();
  });
  document.addEventListener("DOMContentLoaded", function () { applyLarge(); syncControls(); showCurrentStep(); });
})();
