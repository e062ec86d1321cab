// The call's review page (web/qa.py): the recording in step with the transcript. A turn's time button seeks
// the player there and plays; while it plays, the turn being heard is highlighted (aria-current) and kept in
// view. Without a recording the player gives way to a line that says so.
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
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button.seek");
    if (!button) return;
    player.currentTime = Number(button.dataset.start);
    highlight();
    player.play().catch(() => {});  // a browser may refuse to play; the position is still set
  });
})();
