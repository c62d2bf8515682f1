// Streams both answers of a playground match into their panes (server-sent events over a
// POST, so the CSRF token goes in a header). Pieces are shown as plain text while they
// arrive; the finished answer is replaced by the server's sanitised rendering.
(function () {
  const match = document.getElementById("match");
  if (!match || !match.dataset.streamUrl) return;

  function pane(side) { return document.getElementById("answer-" + side); }

  function handle(name, data) {
    if (name === "delta") {
      pane(data.side).append(document.createTextNode(data.text));
    } else if (name === "done") {
      const el = pane(data.side);
      el.innerHTML = data.html;  // rendered by app.markdown: sanitised on the server
      el.classList.remove("streaming");
      if (data.cut_off) document.getElementById("cut-off-" + data.side).classList.remove("hidden");
    } else if (name === "error") {
      const el = document.getElementById("error-" + data.side);
      el.textContent = data.message;
      el.classList.remove("hidden");
      pane(data.side).classList.remove("streaming");
    } else if (name === "end") {
      const ready = !document.querySelector("#match .streaming");
      document.querySelectorAll("#vote-form button").forEach((b) => { b.disabled = !ready; });
      match.dataset.done = "true";
    }
  }

  function parse(block) {
    let name = "message";
    const lines = [];
    block.split("\n").forEach((line) => {
      if (line.startsWith("event:")) name = line.slice(6).trim();
      else if (line.startsWith("data:")) lines.push(line.slice(5).trim());
    });
    if (lines.length) handle(name, JSON.parse(lines.join("\n")));
  }

  async function run() {
    const response = await fetch(match.dataset.streamUrl, {
      method: "POST",
      headers: { "X-CSRF-Token": document.body.dataset.csrf || "", Accept: "text/event-stream" },
      credentials: "same-origin",
    });
    if (!response.ok || !response.body) {
      ["a", "b"].forEach((side) => handle("error", { side: side, message: "The answers could not be fetched (HTTP " + response.status + ")." }));
      return;
    }
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n\n")) >= 0) {
        parse(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 2);
      }
    }
  }

  run();
})();
