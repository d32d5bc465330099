// Taizhang portal: small progressive enhancements; every page works without them.
"use strict";

// The complainant fields hide when the grievance is anonymous (they are not sent then).
function bindAnonymousSwitch() {
  const box = document.getElementById("anonymous");
  const personal = document.getElementById("personal");
  if (!box || !personal) return;
  const sync = () => { personal.hidden = box.checked; };
  box.addEventListener("change", sync);
  sync();
}

// The auditor's time slider: show the case as it stood at the chosen event.
function bindReplaySlider() {
  const slider = document.getElementById("replay-at");
  if (!slider) return;
  const states = document.querySelectorAll("[data-state-index]");
  const events = document.querySelectorAll(".timeline li[data-index]");
  const label = document.getElementById("replay-label");
  const show = () => {
    const at = Number(slider.value);
    states.forEach((el) => { el.hidden = Number(el.dataset.stateIndex) !== at; });
    events.forEach((el) => { el.classList.toggle("future", Number(el.dataset.index) > at); });
    const current = document.querySelector(`[data-state-index="${at}"]`);
    if (label && current) label.textContent = current.dataset.label;
    slider.setAttribute("aria-valuetext", current ? current.dataset.label : String(at));
  };
  slider.addEventListener("input", show);
  show();
}

document.addEventListener("DOMContentLoaded", () => {
  bindAnonymousSwitch();
  bindReplaySlider();
});
