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

// The auditor's time slider: dragging names the moment; letting go asks the audit service for it.
function bindReplaySlider() {
  const slider = document.getElementById("replay-at");
  const form = document.getElementById("replay-form");
  if (!slider || !form) return;
  const events = document.querySelectorAll(".timeline li[data-index]");
  const label = document.getElementById("replay-label");
  const name = () => {
    const at = Number(slider.value);
    events.forEach((el) => { el.classList.toggle("future", Number(el.dataset.index) > at); });
    const current = document.querySelector(`.timeline li[data-index="${at}"]`);
    if (label && current) label.textContent = current.dataset.label;
    slider.setAttribute("aria-valuetext", current ? current.dataset.label : String(at));
  };
  slider.addEventListener("input", name);
  slider.addEventListener("change", () => form.submit());
  name();
}

// The receipt's SMS text is copied with one tap, for the rep to paste into a message.
function bindCopyButtons() {
  document.querySelectorAll("button[data-copy]").forEach((button) => {
    button.addEventListener("click", () => {
      const field = document.getElementById(button.dataset.copy);
      if (!field) return;
      field.select();
      if (navigator.clipboard) navigator.clipboard.writeText(field.value).catch(() => {});
    });
  });
}

document.addEventListener("DOMContentLoaded", () => {
  bindAnonymousSwitch();
  bindCopyButtons();
  bindReplaySlider();
});
