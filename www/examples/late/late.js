// A page whose own script adds the Latch tag late, after DOMContentLoaded (as a tag manager or a consent banner
// does), and twice (a classic and a module tag, as when two plugins each add it). The CSP forbids inline
// scripts, so this is a same-origin file. The end-to-end tests check that Latch works and wires everything once.
// `?site=site_...` picks another site than the demo (the dashboard's end-to-end test buys on its owner's site).
(function () {
  "use strict";
  var asked = new URLSearchParams(location.search).get("site");
  var site = asked && /^site_[\w-]{1,64}$/.test(asked) ? asked : "site_demo";
  document.addEventListener("DOMContentLoaded", function () {
    setTimeout(function () {
      ["text/javascript", "module"].forEach(function (type) {
        var tag = document.createElement("script");
        tag.type = type;
        tag.src = "/latch.js";
        tag.setAttribute("data-site", site);
        document.head.appendChild(tag);
      });
    }, 100);
  });
})();
