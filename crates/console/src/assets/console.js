// Keyward console: the one enhancement over plain forms, copy buttons for secrets shown once.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const field = document.getElementById(button.dataset.copy);
  const status = document.getElementById(button.dataset.copy + "-status");
  field.select();
  let ok = false;
  try {
    await navigator.clipboard.writeText(field.value);
    ok = true;
  } catch (_) {
    ok = document.execCommand && document.execCommand("copy");
  }
  if (status) status.textContent = ok ? "Copied. Store it somewhere safe now." : "Select the text and copy it.";
});
