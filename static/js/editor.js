// The scenario editor (/edit): an uploaded YAML file goes into the text area (and is checked like typed text), and
// a problem's "Line N, column M" link puts the cursor there. The page works without it, except for upload.
(() => {
  "use strict";
  const ready = () => {
    const text = document.getElementById("scenario-yaml");
    if (!text) return;
    const upload = document.getElementById("upload");
    if (upload) {
      upload.addEventListener("change", () => {
        const file = upload.files && upload.files[0];
        if (!file) return;
        file.text().then((content) => {
          text.value = content.replace(/\r\n/g, "\n");
          text.dispatchEvent(new Event("input", { bubbles: true }));
          text.focus();
        });
      });
    }
    document.addEventListener("click", (event) => {
      const link = event.target.closest && event.target.closest("a.at[data-line]");
      if (!link) return;
      event.preventDefault();
      const line = Number(link.dataset.line) || 1;
      const column = Number(link.dataset.column) || 1;
      const lines = text.value.split("\n");
      let offset = 0;
      for (let i = 0; i < Math.min(line - 1, lines.length); i += 1) offset += lines[i].length + 1;
      offset += Math.min(column - 1, (lines[line - 1] || "").length);
      text.focus();
      text.setSelectionRange(offset, offset);
      const gutterLine = document.querySelectorAll("#gutter li")[line - 1];
      if (gutterLine) gutterLine.scrollIntoView({ block: "center" });
    });
  };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
