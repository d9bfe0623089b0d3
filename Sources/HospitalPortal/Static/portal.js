// ChainVault portal: progressive enhancement only; every page works without it.
// Idle warning: two minutes before the session's idle timeout, offer one click to stay signed in;
// when the timeout passes, reload so that the server says the session ended.
(function () {
  "use strict";
  var body = document.body;
  var idle = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  var token = body.getAttribute("data-form-token");
  var box = document.getElementById("idle-warning");
  var stay = document.getElementById("stay-signed-in");
  if (!idle || !token || !box || !stay) { return; }
  var warnTimer, endTimer;
  function arm() {
    clearTimeout(warnTimer); clearTimeout(endTimer);
    box.hidden = true;
    warnTimer = setTimeout(function () { box.hidden = false; stay.focus(); }, Math.max(idle - 120, 1) * 1000);
    endTimer = setTimeout(function () { window.location.reload(); }, (idle + 1) * 1000);
  }
  stay.addEventListener("click", function () {
    var form = new URLSearchParams();
    form.set("form_token", token);
    fetch("/session/refresh", { method: "POST", body: form, credentials: "same-origin" }).then(function (response) {
      if (response.ok) { arm(); } else { window.location.reload(); }
    });
  });
  arm();
})();
