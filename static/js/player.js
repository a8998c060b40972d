// The player's small island of script. Everything it does is click server-rendered links, so the server stays the
// only one deciding what is legal: keys (arrows, Home/End, Space, digits, ?), autoplay, copy link.
(function () {
  "use strict";
  var playing = false;
  var timer = null;

  function player() { return document.getElementById("player"); }
  function follow(el) { if (el && el.getAttribute("href")) { el.click(); return true; } return false; }
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
      button.textContent = playing ? "\u23F8 Pause" : "\u25B6 Play";
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

  function toggle() { playing = !playing; syncControls(); schedule(); }

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

  document.addEventListener("click", function (event) {
    var target = event.target.closest("button");
    if (!target) return;
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

  // After every swap: keep the controls in sync and, if playing, schedule the next step.
  document.addEventListener("htmx:afterSettle", function () { syncControls(); schedule(); });
  document.addEventListener("DOMContentLoaded", syncControls);
})();
