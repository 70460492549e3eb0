/* Storehouse: small enhancements of server-rendered pages. Every page works without
   this file; it only adds what a script does better. Loaded with `defer`, no inline
   script anywhere (the Content-Security-Policy allows scripts from this origin only). */
(function () {
  "use strict";

  /* Avatars: when a picture fails to load, hide it so the initials underneath show.
     `error` does not bubble, so listen in the capture phase; pictures that failed
     before this script ran are caught by the sweep below. */
  function markBroken(img) {
    var avatar = img.closest(".avatar");
    if (avatar) avatar.classList.add("is-broken");
  }
  document.addEventListener("error", function (event) {
    var target = event.target;
    if (target && target.classList && target.classList.contains("avatar-img")) markBroken(target);
  }, true);
  function sweepAvatars() {
    document.querySelectorAll(".avatar-img").forEach(function (img) {
      if (img.complete && img.naturalWidth === 0) markBroken(img);
    });
  }

  /* Flashed messages: a close button (hidden without JavaScript). */
  function initFlashes() {
    document.querySelectorAll("[data-flash] [data-dismiss]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        var flash = button.closest("[data-flash]");
        var list = flash.parentElement;
        flash.classList.add("is-leaving");
        window.setTimeout(function () {
          flash.remove();
          if (list && !list.querySelector("[data-flash]")) list.remove();
        }, reducedMotion() ? 0 : 160);
      });
    });
  }

  function reducedMotion() {
    return window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  }

  /* Menus are <details data-menu>: one open at a time, closed by Escape or a click
     elsewhere; arrow keys move between their items. */
  function menuItems(menu) {
    return Array.prototype.slice.call(menu.querySelectorAll(".menu-panel .menu-item"));
  }
  function closeMenu(menu, refocus) {
    if (!menu.open) return;
    menu.open = false;
    menu.querySelector("summary").setAttribute("aria-expanded", "false");
    if (refocus) menu.querySelector("summary").focus();
  }
  function initMenus() {
    var menus = Array.prototype.slice.call(document.querySelectorAll("details[data-menu]"));
    menus.forEach(function (menu) {
      var summary = menu.querySelector("summary");
      if (menu.querySelector('[role="menu"]')) summary.setAttribute("aria-haspopup", "menu");
      summary.setAttribute("aria-expanded", menu.open ? "true" : "false");
      menu.addEventListener("toggle", function () {
        summary.setAttribute("aria-expanded", menu.open ? "true" : "false");
        if (menu.open) menus.forEach(function (other) { if (other !== menu) closeMenu(other, false); });
      });
      menu.addEventListener("keydown", function (event) {
        var items = menuItems(menu);
        var index = items.indexOf(document.activeElement);
        if (event.key === "Escape") {
          if (menu.open) { event.preventDefault(); event.stopPropagation(); closeMenu(menu, true); }
        } else if (event.key === "ArrowDown" || event.key === "ArrowUp") {
          if (!items.length) return;
          event.preventDefault();
          if (!menu.open) menu.open = true;
          var step = event.key === "ArrowDown" ? 1 : -1;
          var next = index < 0 ? (step > 0 ? 0 : items.length - 1) : (index + step + items.length) % items.length;
          items[next].focus();
        } else if ((event.key === "Home" || event.key === "End") && index >= 0) {
          event.preventDefault();
          items[event.key === "Home" ? 0 : items.length - 1].focus();
        }
      });
    });
    document.addEventListener("click", function (event) {
      menus.forEach(function (menu) { if (!menu.contains(event.target)) closeMenu(menu, false); });
    });
  }

  /* The phone menu: a checkbox toggles the sidebar (see shell.css). Escape closes it
     and returns focus to the button; opening it moves focus into the menu. */
  function initShell() {
    var toggle = document.getElementById("shell-toggle");
    var sidebar = document.getElementById("sidebar");
    if (!toggle || !sidebar) return;
    toggle.addEventListener("change", function () {
      if (toggle.checked) {
        var first = sidebar.querySelector("a[href], summary, button, select:not([disabled])");
        // After the sidebar is shown (it cannot take focus while hidden), unless closed meanwhile.
        if (first) window.requestAnimationFrame(function () { if (toggle.checked) first.focus(); });
      }
    });
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && toggle.checked) {
        toggle.checked = false;
        toggle.focus();
      }
    });
    // Coming back with the browser's Back button shows the page as it was left: closed.
    window.addEventListener("pageshow", function () { toggle.checked = false; });
  }

  function init() {
    sweepAvatars();
    initFlashes();
    initMenus();
    initShell();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
