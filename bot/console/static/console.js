// The agent console: suggested answers, open hand-offs, application statuses.
// Everything shown is set with textContent (never parsed as HTML).
(() => {
  "use strict";
  const S = JSON.parse(document.getElementById("console-strings").textContent);
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const urls = document.body.dataset;

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  async function post(url, data) {
    let resp;
    try {
      resp = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: JSON.stringify(data),
      });
    } catch (e) {
      return { ok: false, data: { message: S.error } };
    }
    let payload = {};
    try { payload = await resp.json(); } catch (e) { payload = {}; }
    if (resp.status === 401) payload.message = S.session;
    return { ok: resp.ok, data: payload };
  }

  async function copy(text, button) {
    try {
      await navigator.clipboard.writeText(text);
    } catch (e) {
      // No clipboard permission (plain http on another host): the old way.
      const area = el("textarea");
      area.value = text;
      area.setAttribute("readonly", "");
      area.style.position = "fixed";
      area.style.opacity = "0";
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    button.textContent = S.copied;
    setTimeout(() => { button.textContent = S.copy; }, 2000);
  }

  // -- what the caller asked -> suggested answers ---------------------------------
  const list = document.getElementById("suggestions");
  const understood = document.getElementById("understood");
  document.getElementById("ask-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = document.getElementById("question").value.trim();
    const lang = document.getElementById("answer-lang").value;
    list.replaceChildren();
    understood.className = "muted";
    understood.textContent = "";
    if (!text) {
      understood.className = "error";
      understood.textContent = S.empty;
      return;
    }
    const res = await post(urls.suggestUrl, { text, lang });
    if (!res.ok) {
      understood.className = "error";
      understood.textContent = res.data.message || S.error;
      return;
    }
    const d = res.data;
    understood.textContent = d.understood + (d.degraded ? " — " + d.degraded : "");
    if (!d.suggestions.length) {
      list.appendChild(el("li", "none", d.none));
      return;
    }
    for (const s of d.suggestions) {
      const item = el("li", "suggestion");
      const title = el("h3", null, s.title);
      title.appendChild(el("span", "score", s.score_label));
      item.appendChild(title);
      item.appendChild(el("p", "answer", s.text));
      if (s.citation_line) item.appendChild(el("p", "cite", s.citation_line));
      const button = el("button", "secondary copy", S.copy);
      button.type = "button";
      button.addEventListener("click", () => copy(s.message, button));
      item.appendChild(button);
      list.appendChild(item);
    }
  });
  // Pressed before this script ran, the form would reload the page (and
  // lose its language) instead of asking: it is enabled once it asks.
  document.getElementById("ask-button").disabled = false;

  // -- application status changes ----------------------------------------------------
  const appRows = document.getElementById("app-rows");
  appRows.addEventListener("submit", async (ev) => {
    const form = ev.target.closest("form.status-form");
    if (!form) return;
    ev.preventDefault();
    const result = form.querySelector(".result");
    result.className = "result";
    result.textContent = "";
    const data = {
      status: form.elements.status.value,
      place: form.elements.place.value,
      reason: form.elements.reason.value,
    };
    const url = urls.appsUrl + "/" + encodeURIComponent(form.dataset.number) + "/status";
    const res = await post(url, data);
    if (!res.ok) {
      result.className = "result error";
      result.textContent = res.data.message || S.error;
      return;
    }
    const d = res.data;
    const row = form.closest("tr");
    row.querySelector(".status").textContent = d.status_label;
    row.querySelector(".updated").textContent = d.updated;
    if (!d.next.length) {
      const done = el("span", "muted", d.final_label + " ");
      done.appendChild(el("span", "ok", d.message));
      form.replaceWith(done);
      return;
    }
    const select = form.elements.status;
    select.replaceChildren();
    for (const option of d.next) {
      const node = el("option", null, option.label);
      node.value = option.value;
      select.appendChild(node);
    }
    form.elements.place.value = "";
    form.elements.reason.value = "";
    result.className = "result ok";
    result.textContent = d.message;
  });

  // -- notifications that may not have arrived: send again ------------------------------
  document.getElementById("outbox-rows").addEventListener("click", async (ev) => {
    const button = ev.target.closest("button.resend");
    if (!button) return;
    button.disabled = true;
    const result = button.parentElement.querySelector(".result");
    const res = await post(urls.outboxUrl + "/" + encodeURIComponent(button.dataset.id) + "/resend", {});
    if (!res.ok) {
      result.className = "result error";
      result.textContent = res.data.message || S.error;
      button.disabled = false;
      return;
    }
    button.closest("tr").querySelector(".status").textContent = res.data.status_label;
    result.className = "result ok";
    result.textContent = res.data.message;
    button.remove();
  });

  // -- open hand-offs, refreshed ---------------------------------------------------------
  async function refreshHandoffs() {
    let data;
    try {
      const resp = await fetch(urls.handoffsUrl, { credentials: "same-origin" });
      if (!resp.ok) return;
      data = await resp.json();
    } catch (e) {
      return; // a moment offline: the next refresh tries again
    }
    const rows = document.getElementById("handoff-rows");
    rows.replaceChildren();
    if (!data.handoffs.length) {
      const tr = el("tr");
      const td = el("td", "muted", data.empty);
      td.colSpan = 5;
      tr.appendChild(td);
      rows.appendChild(tr);
      return;
    }
    for (const h of data.handoffs) {
      const tr = el("tr");
      tr.dataset.id = String(h.id);
      for (const value of [String(h.id), h.lang, h.opened, h.topic]) tr.appendChild(el("td", null, value));
      const state = el("td", null, h.state);
      if (h.link) {
        state.appendChild(document.createTextNode(" · "));
        const a = el("a", null, h.link_label);
        a.href = h.link;
        a.target = "_blank";
        a.rel = "noopener noreferrer";
        state.appendChild(a);
      }
      tr.appendChild(state);
      rows.appendChild(tr);
    }
  }
  setInterval(refreshHandoffs, 20000);
})();
