// The call's review page (web/qa.py): the recording in step with the transcript. A turn's time button (or a
// click on its words) seeks the player there and plays; while it plays, the turn being heard is highlighted
// (aria-current) and kept in view. Without a recording the player gives way to a line that says so.
"use strict";
(() => {
  const player = document.getElementById("recording");
  const turns = [...document.querySelectorAll(".qa-timeline > li[data-start]")];
  if (!player) return;
  const missing = () => {
    player.hidden = true;
    document.getElementById("no-recording").hidden = false;
    document.getElementById("recording-hint").hidden = true;
    document.querySelectorAll("button.seek").forEach((b) => { b.disabled = true; });
  };
  player.addEventListener("error", missing);
  if (player.error) missing();
  let current = null;
  const highlight = () => {
    const now = player.currentTime;
    let playing = null;
    for (const li of turns) if (Number(li.dataset.start) <= now + 0.05) playing = li;
    if (playing === current) return;
    if (current) { current.classList.remove("playing"); current.removeAttribute("aria-current"); }
    current = playing;
    if (current) {
      current.classList.add("playing");
      current.setAttribute("aria-current", "true");
      if (!player.paused) current.scrollIntoView({ block: "nearest" });
    }
  };
  player.addEventListener("timeupdate", highlight);
  player.addEventListener("seeked", highlight);
  // A turn's time button, or a click on the turn's words (not on its forms or links), plays from the turn.
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.seek");
    const line = event.target.closest(".qa-timeline > li[data-start]");
    if (!button && (!line || event.target.closest("a, button, input, textarea, select, label, details"))) return;
    if (player.hidden) return;
    player.currentTime = Number((button || line).dataset.start);
    highlight();
    player.play().catch(() => {});  // a browser may refuse to play; the position is still set
  });
})();
