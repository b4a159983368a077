"use strict";
// The chat page: asks /api/ask, shows the answer with its source, offers suggestions as
// buttons and votes through /api/feedback. Text from the server is inserted with
// textContent; only answer_html, which the server renders and escapes, is used as HTML.
(function () {
  const log = document.getElementById("log");
  const form = document.getElementById("ask");
  const input = document.getElementById("q");
  let user = "";
  try {
    user = localStorage.getItem("scobot-user") || "";
    if (!user) {
      user = "web-" + Math.random().toString(36).slice(2, 12);
      localStorage.setItem("scobot-user", user);
    }
  } catch (e) { user = ""; }

  function el(tag, cls, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined) e.textContent = text;
    return e;
  }

  function scroll() { window.scrollTo(0, document.body.scrollHeight); }

  async function ask(body, shown) {
    log.appendChild(el("div", "msg q", shown));
    scroll();
    const box = el("div", "msg a", "…");
    log.appendChild(box);
    try {
      const res = await fetch("/api/ask", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(Object.assign({ user: user }, body)),
      });
      const data = await res.json();
      box.textContent = "";
      if (!res.ok) {
        box.appendChild(el("p", "err", data.error || "Something went wrong."));
        return;
      }
      render(box, data);
    } catch (e) {
      box.textContent = "";
      box.appendChild(el("p", "err", "The bot could not be reached. Please try again."));
    }
    scroll();
  }

  function render(box, d) {
    if (d.answered) {
      box.appendChild(el("h2", "", d.title));
      const body = el("div", "body");
      body.innerHTML = d.answer_html; // rendered and escaped by the server
      box.appendChild(body);
      const src = el("div", "source");
      src.appendChild(el("div", "", "Source: " + d.section_heading));
      if (d.quote) src.appendChild(el("q", "", d.quote));
      box.appendChild(src);
    } else {
      box.appendChild(el("p", "", d.message || "The article doesn't cover that."));
    }
    if (d.suggestions && d.suggestions.length) {
      box.appendChild(el("div", "note", d.answered ? "Or did you mean:" : "Did you mean:"));
      const row = el("div", "actions");
      d.suggestions.forEach(function (s) {
        const b = el("button", "", s.title);
        b.type = "button";
        b.addEventListener("click", function () { ask({ entry: s.id }, s.title); });
        row.appendChild(b);
      });
      box.appendChild(row);
    }
    if (!d.answered && !(d.suggestions && d.suggestions.length)) {
      const row = el("div", "actions");
      const b = el("button", "", "What does the article cover?");
      b.type = "button";
      b.addEventListener("click", function () { b.disabled = true; showTopics(box); });
      row.appendChild(b);
      box.appendChild(row);
    }
    if (d.query_id && d.answered) {
      const row = el("div", "actions");
      const note = el("span", "note");
      ["up", "down"].forEach(function (v) {
        const b = el("button", "", v === "up" ? "👍 Helpful" : "👎 Not helpful");
        b.type = "button";
        b.addEventListener("click", async function () {
          row.querySelectorAll("button").forEach(function (x) { x.disabled = true; });
          try {
            const res = await fetch("/api/feedback", {
              method: "POST",
              headers: { "Content-Type": "application/json" },
              body: JSON.stringify({ query_id: d.query_id, vote: v, user: user }),
            });
            const data = await res.json();
            note.textContent = res.ok ? data.message : (data.error || "Vote not recorded.");
          } catch (e) {
            note.textContent = "Vote not recorded.";
          }
        });
        row.appendChild(b);
      });
      row.appendChild(note);
      box.appendChild(row);
    }
  }

  // A link like /?q=trans-caspian asks its question when the page opens, so answers can
  // be shared.
  const initial = new URLSearchParams(window.location.search).get("q");
  if (initial && initial.trim()) ask({ q: initial.trim().slice(0, 500) }, initial.trim().slice(0, 500));

  // showTopics lists the article's sections, each with a button for its overview answer.
  async function showTopics(box) {
    try {
      const res = await fetch("/api/topics");
      const topics = await res.json();
      const list = el("div", "actions");
      topics.forEach(function (t) {
        const first = t.entries.find(function (e) { return e.id === "section-" + t.section; }) || t.entries[0];
        if (!first) return;
        const b = el("button", "", t.heading);
        b.type = "button";
        b.addEventListener("click", function () { ask({ entry: first.id }, t.heading); });
        list.appendChild(b);
      });
      box.appendChild(list);
      scroll();
    } catch (e) {
      box.appendChild(el("p", "err", "The topics could not be loaded."));
    }
  }

  form.addEventListener("submit", function (ev) {
    ev.preventDefault();
    const q = input.value.trim();
    if (!q) return;
    input.value = "";
    ask({ q: q }, q);
  });
})();
