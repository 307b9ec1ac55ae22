// The call page: seek from a word, a turn's time or an evidence button; highlight the word under the playhead.
const player = document.getElementById("player");

function seek(t) {
  if (!player || !Number.isFinite(t)) return;
  player.currentTime = t;
  const played = player.play();
  if (played) played.catch(() => {}); // autoplay refusals are not errors: the time is set
}

document.addEventListener("click", (ev) => {
  const target = ev.target.closest("[data-seek], .w");
  if (!target) return;
  seek(parseFloat(target.dataset.seek ?? target.dataset.s));
});

if (player) {
  player.addEventListener("error", () => {
    const note = document.getElementById("audio-note");
    if (note) note.hidden = false;
  });
  const words = Array.from(document.querySelectorAll(".transcript .w"));
  const starts = words.map((w) => parseFloat(w.dataset.s));
  let current = null;
  const mark = () => {
    const t = player.currentTime;
    let lo = 0, hi = starts.length - 1, at = -1;
    while (lo <= hi) { // the last word starting at or before t
      const mid = (lo + hi) >> 1;
      if (starts[mid] <= t) { at = mid; lo = mid + 1; } else { hi = mid - 1; }
    }
    const next = at >= 0 && t < parseFloat(words[at].dataset.e) + 0.25 ? words[at] : null;
    if (next === current) return;
    if (current) current.classList.remove("now");
    if (next) next.classList.add("now");
    current = next;
  };
  const playhead = document.getElementById("playhead");
  const scale = parseFloat(document.getElementById("timeline")?.dataset.scale ?? "0");
  const move = () => {
    if (!playhead) return;
    const x = String(player.currentTime * scale);
    playhead.setAttribute("x1", x);
    playhead.setAttribute("x2", x);
  };
  player.addEventListener("timeupdate", move);
  player.addEventListener("seeked", move);
  player.addEventListener("timeupdate", mark);
  player.addEventListener("seeked", mark);
}
