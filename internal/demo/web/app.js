// herald demo console: draws the state the server streams (Server-Sent
// Events) and turns clicks into the console API's requests, which the server
// turns into signed Slack and Twilio requests to herald. Plain JavaScript,
// no build step, nothing fetched from outside.
"use strict";

const $ = (sel, root = document) => root.querySelector(sel);
const el = (tag, attrs = {}, ...kids) => {
  const n = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") n.className = v;
    else if (k === "html") n.innerHTML = v;
    else if (k.startsWith("on")) n.addEventListener(k.slice(2), v);
    else n.setAttribute(k, v === true ? "" : v);
  }
  for (const kid of kids.flat()) {
    if (kid === null || kid === undefined || kid === false) continue;
    n.append(kid instanceof Node ? kid : document.createTextNode(String(kid)));
  }
  return n;
};

let state = null;
let acting = localStorage.getItem("herald-demo-acting") || "U0RESP1";
let filter = "all";
const firstSeen = new Map(); // slack ts -> Date the page first saw it
const modalValues = new Map(); // "viewId|block|action" -> entered value, kept across view updates

// ---- talking to the console API ----

async function api(path, body) {
  const resp = await fetch(path, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  let data = {};
  try { data = await resp.json(); } catch (e) { data = {}; }
  if (!resp.ok) {
    const msg = data.error || ("HTTP " + resp.status);
    toast(msg, true);
    throw new Error(msg);
  }
  return data;
}

let toastTimer = 0;
function toast(msg, isError) {
  const t = $("#toast");
  t.textContent = msg;
  t.className = "toast" + (isError ? " error" : "");
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 4000);
}

// ---- mrkdwn ----

function esc(s) {
  return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

// emoji are the shortcodes herald's texts use, as Slack shows them.
const emoji = { warning: "⚠️", lock: "🔒", outbox_tray: "📤", white_check_mark: "✅", x: "❌", rotating_light: "🚨", hourglass: "⌛" };

// mrkdwn renders Slack's markup: *bold*, _italic_, ~strike~, `code`,
// ```pre```, > quotes, <url|label> links, <@U123> mentions.
function mrkdwn(src) {
  const users = state ? state.users : [];
  let s = esc(src || "");
  s = s.replace(/```([\s\S]*?)```/g, (_, code) => '<span class="bk-pre">' + code.replace(/^\n/, "") + "</span>");
  s = s.replace(/`([^`\n]+)`/g, "<code>$1</code>");
  s = s.replace(/&lt;@([A-Z0-9]+)&gt;/g, (_, id) => {
    const u = users.find((x) => x.id === id);
    return "<b>@" + esc(u ? u.name : id) + "</b>";
  });
  s = s.replace(/&lt;(https?:[^|&]+)\|([^&]+)&gt;/g, '<a href="$1" target="_blank" rel="noopener">$2</a>');
  s = s.replace(/&lt;(https?:[^&]+)&gt;/g, '<a href="$1" target="_blank" rel="noopener">$1</a>');
  s = s.replace(/:([a-z0-9_+-]+):/g, (all, name) => (name in emoji ? emoji[name] : all));
  s = s.replace(/(^|[\s(>])\*([^*\n]+)\*/g, "$1<b>$2</b>");
  s = s.replace(/(^|[\s(>])_([^_\n]+)_/g, "$1<i>$2</i>");
  s = s.replace(/(^|[\s(>])~([^~\n]+)~/g, "$1<s>$2</s>");
  s = s.split("\n").map((line) => line.startsWith("&gt; ") ? '<span class="bk-quote">' + line.slice(5) + "</span>" : line).join("\n");
  // Slack escapes a literal <, > and & in mrkdwn as &lt; &gt; &amp; (raw
  // < > are its control sequences): show those as the characters they are.
  s = s.replace(/&amp;(lt|gt|amp);/g, "&$1;");
  return s.replace(/\n/g, "<br>");
}

function textObj(t) {
  if (!t) return "";
  return t.type === "mrkdwn" ? mrkdwn(t.text) : esc(t.text);
}

// ---- Block Kit, messages ----

function renderBlocks(blocks, ctx) {
  const out = [];
  for (const b of blocks || []) {
    switch (b.type) {
      case "header":
        out.push(el("div", { class: "bk-header", html: textObj(b.text) }));
        break;
      case "section": {
        const body = el("div", { class: "bk-section" });
        if (b.text) body.append(el("div", { html: textObj(b.text) }));
        if (b.fields) body.append(el("div", { class: "bk-fields" }, b.fields.map((f) => el("div", { html: textObj(f) }))));
        if (b.accessory && b.accessory.type === "button") {
          out.push(el("div", { class: "section-with-acc" }, body, button(b.accessory, b.block_id, ctx)));
        } else out.push(body);
        break;
      }
      case "context":
        out.push(el("div", { class: "bk-context" }, (b.elements || []).map((e) => e.type === "image" ? el("span", {}, "[image]") : el("span", { html: textObj(e) }))));
        break;
      case "divider":
        out.push(el("hr", { class: "bk-divider" }));
        break;
      case "actions":
        out.push(el("div", { class: "bk-actions" }, (b.elements || []).filter((e) => e.type === "button").map((e) => button(e, b.block_id, ctx))));
        break;
      case "input":
        if (ctx.modal) out.push(renderInput(b, ctx));
        break;
      case "image":
        out.push(el("div", { class: "bk-context" }, "[image] " + (b.alt_text || "")));
        break;
      default:
        if (b.text) out.push(el("div", { class: "bk-section", html: textObj(b.text) }));
    }
  }
  return out;
}

function button(e, blockId, ctx) {
  const cls = "btn" + (e.style === "primary" ? " primary" : e.style === "danger" ? " danger" : "");
  return el("button", {
    class: cls, type: "button", "data-action-id": e.action_id, "data-value": e.value || "",
    onclick: async (ev) => {
      const btn = ev.currentTarget;
      btn.disabled = true; // one click, one request, as in Slack
      try {
        if (ctx.modal) {
          await api("/api/view/action", { viewId: ctx.modal.id, state: collectState(ctx.modal), action: {
            type: "button", action_id: e.action_id, block_id: blockId || "", value: e.value || "", text: e.text } });
        } else {
          await api("/api/action", { user: acting, channel: ctx.channel, ts: ctx.ts, actionId: e.action_id,
            blockId: blockId || "", value: e.value || "", text: e.text ? e.text.text : "" });
        }
      } catch (err) { /* the toast said it */ }
      btn.disabled = !!(state && state.slackDown);
    },
  }, e.text ? e.text.text : e.action_id);
}

function userName(id) {
  const u = state.users.find((x) => x.id === id);
  return u ? u.name : id;
}

function timeOf(ts) {
  if (!firstSeen.has(ts)) firstSeen.set(ts, new Date());
  return firstSeen.get(ts).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function renderMessage(m, opts) {
  const isEph = !!opts.ephemeral;
  const node = el("div", { class: "msg" + (isEph ? " ephemeral" : ""), "data-ts": m.ts },
    el("div", { class: "avatar" }, "h"),
    el("div", {},
      el("div", { class: "meta" }, el("b", {}, "herald"), el("span", { class: "app" }, "APP"), el("time", {}, timeOf(m.ts)),
        m.edits ? el("span", { class: "edited" }, "(edited)") : null),
      isEph ? el("div", { class: "only" }, "Only visible to you") : null,
      m.blocks && m.blocks.length ? renderBlocks(m.blocks, { channel: opts.channel, ts: m.ts }) : el("div", { class: "bk-section", html: mrkdwn(m.text) })));
  return node;
}

// reconcile makes container's children the nodes of items, in order,
// building only the items whose signature changed: a node the person is
// about to click is not swapped under the pointer by an unrelated update.
function reconcile(container, items) {
  const old = container._nodes || new Map();
  const next = new Map();
  const nodes = [];
  for (const it of items) {
    let n = old.get(it.key);
    if (!n || (it.sig !== undefined && n._sig !== it.sig)) {
      const fresh = it.build();
      if (n || container._drawn) fresh.classList.add("flash");
      n = fresh;
      n._sig = it.sig;
    }
    if (it.update) it.update(n);
    next.set(it.key, n);
    nodes.push(n);
  }
  container._nodes = next;
  container._drawn = true;
  nodes.forEach((n, i) => {
    const at = container.children[i];
    if (at !== n) container.insertBefore(n, at || null);
  });
  while (container.children.length > nodes.length) container.lastElementChild.remove();
}

let drawnMessages = -1;

let viewing = "channel"; // or "triage"

function renderChannel() {
  const box = $("#messages");
  const ch = state[viewing];
  for (const b of document.querySelectorAll(".sidebar .chan[data-view]")) b.classList.toggle("active", b.dataset.view === viewing);
  $("#channel-name").textContent = "# " + ch.name;
  $("#channel-topic").textContent = viewing === "triage" ? "Replies herald could not match to an incident" : "Incident war room · herald posts here";
  if (box.dataset.viewing !== viewing) {
    box.replaceChildren();
    box._nodes = null;
    box._drawn = false;
    box.dataset.viewing = viewing;
    drawnMessages = -1;
  }
  const mine = ch.ephemerals.filter((e) => e.user === acting);
  const roots = ch.messages.filter((m) => !m.threadTs || m.threadTs === m.ts);
  const entries = [];
  for (const r of roots) entries.push({ ts: r.ts, msg: r });
  for (const e of mine.filter((e) => !e.threadTs)) entries.push({ ts: e.ts, msg: e, ephemeral: true });
  entries.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  const sigOf = (m) => (m.text || "") + JSON.stringify(m.blocks || null) + (m.edits || 0);
  const items = [];
  if (entries.length === 0) {
    const empty = viewing === "triage" ? "Nothing to triage: every reply found its incident."
      : "No incident yet.<br>Type <code>/incident new Checkout failing --sev 2</code> below to declare one.";
    items.push({ key: "empty:" + viewing, sig: "", build: () => el("div", { class: "empty", html: empty }) });
  }
  for (const it of entries) {
    const key = (it.ephemeral ? "e:" : "m:") + it.ts;
    items.push({ key, sig: sigOf(it.msg), build: () => renderMessage(it.msg, { channel: ch.id, ephemeral: it.ephemeral }) });
    if (it.ephemeral) continue;
    const replies = ch.messages.filter((m) => m.threadTs === it.ts && m.ts !== it.ts)
      .map((m) => ({ ts: m.ts, msg: m }))
      .concat(mine.filter((e) => e.threadTs === it.ts).map((e) => ({ ts: e.ts, msg: e, ephemeral: true })))
      .sort((a, b) => (a.ts < b.ts ? -1 : 1));
    if (!replies.length) continue;
    items.push({
      key: "t:" + it.ts,
      build: () => el("div", { class: "thread", "data-thread": it.ts }, el("div", { class: "thread-label" }), el("div", { class: "replies" })),
      update: (node) => {
        node.firstChild.textContent = replies.length + (replies.length === 1 ? " reply" : " replies");
        reconcile(node.lastChild, replies.map((r) => ({
          key: (r.ephemeral ? "e:" : "m:") + r.ts, sig: sigOf(r.msg),
          build: () => renderMessage(r.msg, { channel: ch.id, ephemeral: r.ephemeral }),
        })));
      },
    });
  }
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 60;
  reconcile(box, items);
  for (const b of box.querySelectorAll("button.btn")) b.disabled = state.slackDown;
  const count = ch.messages.length + mine.length;
  // New posts scroll into view, as in Slack, and a reader at the bottom
  // stays there; one who scrolled up to read is left where they are.
  if (count !== drawnMessages || atBottom) box.scrollTop = box.scrollHeight;
  drawnMessages = count;
  const t = $("#triage-count");
  t.hidden = state.triage.messages.length === 0;
  t.textContent = state.triage.messages.length;
}

// ---- modals ----

let drawnModal = "";

function renderModal() {
  const root = $("#modal-root");
  const m = state.modal;
  if (!m) {
    root.replaceChildren();
    drawnModal = "";
    return;
  }
  const key = m.id + "|" + JSON.stringify(m.view) + JSON.stringify(m.errors || {});
  if (key === drawnModal) return;
  if (drawnModal && !drawnModal.startsWith(m.id + "|")) modalValues.clear();
  // Keep what the person typed: Slack keeps input values across updates of
  // blocks whose ids stay the same.
  if (root.firstChild) saveModalValues(m.id);
  drawnModal = key;
  const v = m.view;
  const ctx = { modal: m };
  const body = el("div", { class: "modal-body" }, renderBlocks(v.blocks, ctx));
  const foot = el("div", { class: "modal-foot" },
    el("button", { class: "btn", type: "button", id: "modal-cancel", onclick: () => api("/api/view/close", { viewId: m.id }).catch(() => {}) },
      v.close ? v.close.text : "Cancel"),
    v.submit ? el("button", { class: "btn primary", type: "submit", id: "modal-submit" }, v.submit.text) : null);
  const form = el("form", { class: "modal", id: "modal", "data-view-id": m.id, "data-callback": v.callback_id || "",
    onsubmit: async (ev) => {
      ev.preventDefault();
      const btn = $("#modal-submit");
      if (btn) btn.disabled = true;
      try { await api("/api/view/submit", { viewId: m.id, state: collectState(m) }); } catch (e) { if (btn) btn.disabled = false; }
    } },
    el("div", { class: "modal-head" },
      el("div", {}, el("h2", {}, v.title ? v.title.text : "herald"), el("div", { class: "who" }, "as " + userName(m.user) + (m.depth > 1 ? " · step " + m.depth : ""))),
      el("button", { class: "x", type: "button", "aria-label": "Close", onclick: () => api("/api/view/close", { viewId: m.id }).catch(() => {}) }, "×")),
    body, foot);
  root.replaceChildren(el("div", { class: "modal-back" }, form));
}

function valueKey(viewId, blockId, actionId) { return viewId + "|" + blockId + "|" + actionId; }

function renderInput(b, ctx) {
  const e = b.element || {};
  const m = ctx.modal;
  const key = valueKey(m.id, b.block_id, e.action_id);
  const saved = modalValues.get(key);
  const err = m.errors && m.errors[b.block_id];
  const id = "in-" + b.block_id.replace(/[^a-zA-Z0-9_-]/g, "_");
  const field = el("div", { class: "field", "data-block-id": b.block_id, "data-action-id": e.action_id, "data-type": e.type });
  const label = b.label ? b.label.text + (b.optional ? " (optional)" : "") : "";
  const dispatch = b.dispatch_action;
  const fire = (action) => { if (dispatch) api("/api/view/action", { viewId: m.id, state: collectState(m), action: Object.assign({ action_id: e.action_id, block_id: b.block_id, type: e.type }, action) }).catch(() => {}); };
  switch (e.type) {
    case "plain_text_input": {
      const val = saved !== undefined ? saved : (e.initial_value || "");
      const input = e.multiline
        ? el("textarea", { id, placeholder: e.placeholder ? e.placeholder.text : "" }, val)
        : el("input", { id, type: "text", value: val, placeholder: e.placeholder ? e.placeholder.text : "" });
      field.append(el("label", { for: id }, label), input);
      break;
    }
    case "static_select": {
      const sel = el("select", { id, onchange: (ev) => {
        const o = (e.options || []).find((x) => x.value === ev.target.value);
        if (o) fire({ selected_option: o });
      } }, el("option", { value: "" }, e.placeholder ? e.placeholder.text : "Choose…"));
      const chosen = saved !== undefined ? saved : (e.initial_option ? e.initial_option.value : "");
      for (const o of allOptions(e)) sel.append(el("option", { value: o.value, selected: o.value === chosen || undefined }, o.text.text));
      field.append(el("label", { for: id }, label), sel);
      break;
    }
    case "multi_static_select":
    case "checkboxes": {
      const chosen = saved !== undefined ? saved : ((e.initial_options || []).map((o) => o.value));
      const opts = el("div", { class: "opts", id });
      for (const o of allOptions(e)) {
        opts.append(el("label", { class: "opt" },
          el("input", { type: "checkbox", value: o.value, checked: chosen.includes(o.value) || undefined, "data-option": o.value }),
          el("span", { html: textObj(o.text) })));
      }
      field.append(el("div", { class: "flabel" }, label), opts);
      break;
    }
    default:
      field.append(el("div", { class: "flabel" }, label), el("div", { class: "hint-text" }, "(" + e.type + " is not drawn by the demo)"));
  }
  if (b.hint) field.append(el("div", { class: "hint-text" }, b.hint.text));
  if (err) field.append(el("div", { class: "err" }, err));
  return field;
}

function allOptions(e) {
  if (e.options) return e.options;
  if (e.option_groups) return e.option_groups.flatMap((g) => g.options || []);
  return [];
}

function saveModalValues(viewId) {
  for (const f of document.querySelectorAll("#modal .field")) {
    const key = valueKey(viewId, f.dataset.blockId, f.dataset.actionId);
    const t = f.dataset.type;
    if (t === "plain_text_input") modalValues.set(key, $("input, textarea", f).value);
    else if (t === "static_select") modalValues.set(key, $("select", f).value);
    else if (t === "multi_static_select" || t === "checkboxes") modalValues.set(key, [...f.querySelectorAll("input:checked")].map((i) => i.value));
  }
}

// collectState builds view.state.values as Slack sends it.
function collectState(m) {
  const values = {};
  const blocks = (m.view.blocks || []).filter((b) => b.type === "input");
  for (const b of blocks) {
    const e = b.element || {};
    const f = document.querySelector('#modal .field[data-block-id="' + CSS.escape(b.block_id) + '"]');
    if (!f) continue;
    const opts = allOptions(e);
    let v;
    if (e.type === "plain_text_input") v = { type: e.type, value: $("input, textarea", f).value };
    else if (e.type === "static_select") {
      const o = opts.find((x) => x.value === $("select", f).value);
      v = { type: e.type, selected_option: o || null };
    } else if (e.type === "multi_static_select" || e.type === "checkboxes") {
      const vals = [...f.querySelectorAll("input:checked")].map((i) => i.value);
      v = { type: e.type, selected_options: opts.filter((o) => vals.includes(o.value)) };
    } else continue;
    values[b.block_id] = { [e.action_id]: v };
  }
  return values;
}

// ---- phones ----

const cards = new Map(); // phone id -> {root, bubbles, count}

function filterMatches(p) {
  if (filter === "all") return true;
  if (filter === "staff") return p.role !== "stakeholder";
  return p.audiences.includes(filter);
}

function renderFilters() {
  const box = $("#filters");
  if (box.childElementCount) {
    for (const b of box.children) b.classList.toggle("on", b.dataset.filter === filter);
    return;
  }
  const names = ["all", "executives", "it-ops", "customers", "staff"];
  for (const n of names) {
    box.append(el("button", { type: "button", "data-filter": n, class: n === filter ? "on" : "", onclick: () => { filter = n; render(); } },
      n === "all" ? "All" : n === "staff" ? "Responders & watchers" : n));
  }
}

function channelLabel(c) { return c === "whatsapp" ? "WhatsApp" : "SMS"; }

function makeCard(p) {
  const wa = p.replyVia === "whatsapp";
  const bubbles = el("div", { class: "bubbles" });
  const input = el("input", { type: "text", placeholder: wa ? "Message" : "Text Message", "aria-label": "Reply from " + p.name });
  const send = async (text, photo) => {
    try { await api("/api/phone/send", { phone: p.id, text, photo: !!photo }); input.value = ""; } catch (e) { /* toast */ }
  };
  const tags = el("div", { class: "tags" },
    el("span", { class: "tagc " + (p.channel === "whatsapp" ? "wa" : "sms") }, channelLabel(p.channel)),
    p.locale ? el("span", { class: "tagc" }, p.locale) : null,
    p.role !== "stakeholder" ? el("span", { class: "tagc role" }, p.role) : null,
    p.audiences.map((a) => el("span", { class: "tagc" }, a)),
    p.note ? el("span", { class: "tagc note", title: p.note }, p.note) : null);
  // Quick replies: a tap sends; NOTIFY and APPROVE are filled in to edit
  // first (APPROVE with the code herald last texted this phone).
  const lastCode = () => {
    const c = cards.get(p.id);
    const m = c && c.root.querySelector(".bubbles").innerText.match(/APPROVE (\d+)/g);
    return m ? m[m.length - 1] : "APPROVE ";
  };
  const fill = (text) => { input.value = text; input.focus(); };
  const quick = p.role === "responder"
    ? [["STATUS", () => send("STATUS")], ["NOTIFY", () => fill("NOTIFY INC-1 it-ops investigating next_update=15:00")], ["HELP", () => send("HELP")]]
    : p.role === "approver" ? [["STATUS", () => send("STATUS")], ["APPROVE", () => fill(lastCode())], ["HELP", () => send("HELP")]]
      : p.role === "watcher" ? [["HELP", () => send("HELP")]]
        : [["STOP", () => send("STOP")], ["HELP", () => send("HELP")], ["Photo", () => send("Server room, 2nd floor", true)]];
  const root = el("div", { class: "card", "data-phone": p.id, "data-role": p.role },
    el("div", { class: "who-line" }, el("div", { class: "pname", title: p.name }, p.name), tags),
    el("div", { class: "phone" },
      el("div", { class: "screen" + (wa ? " wa" : "") },
        el("div", { class: "notch" }),
        el("div", { class: "statusbar" }, el("span", { class: "clock" }, ""), el("span", {}, "▮▮▮ 5G")),
        el("div", { class: "apphead" }, el("div", { class: "ava" }, "h"),
          el("div", {}, el("div", { class: "t" }, wa ? "herald (WhatsApp)" : "herald"),
            el("div", { class: "s" }, p.number))),
        bubbles,
        el("form", { class: "reply", onsubmit: (ev) => { ev.preventDefault(); if (input.value.trim()) send(input.value); } },
          input, el("button", { type: "submit", "aria-label": "Send" }, "➤")),
        el("div", { class: "quick" }, quick.map(([label, act]) => el("button", { type: "button", title: label, onclick: act }, label))))));
  return { root, bubbles, count: -1, sig: "" };
}

function ticks(b) {
  if (b.dir !== "in") return null;
  switch (b.status) {
    case "queued": case "accepted": return el("span", { class: "ticks" }, "◷ queued");
    case "sent": return el("span", { class: "ticks" }, "✓ sent");
    case "delivered": return el("span", { class: "ticks" }, "✓✓ delivered");
    case "read": return el("span", { class: "ticks read" }, "✓✓ read");
    case "failed": case "undelivered": return el("span", { class: "ticks failed" }, "✕ " + b.status + (b.errorCode ? " · " + b.errorCode : ""));
    default: return b.status ? el("span", { class: "ticks" }, b.status) : null;
  }
}

function renderPhones() {
  const grid = $("#phone-grid");
  let reached = 0, stakeholders = 0;
  const visible = [];
  for (const p of state.phones) {
    if (p.role === "stakeholder") {
      stakeholders++;
      if (p.bubbles.some((b) => b.dir === "in")) reached++;
    }
    let c = cards.get(p.id);
    if (!c) { c = makeCard(p); cards.set(p.id, c); }
    if (filterMatches(p)) visible.push(c.root);
    const sig = JSON.stringify(p.bubbles);
    if (sig === c.sig) continue;
    const grew = p.bubbles.length > c.count && c.count >= 0;
    c.sig = sig;
    c.count = p.bubbles.length;
    const wa = p.replyVia === "whatsapp";
    c.bubbles.replaceChildren();
    if (!p.bubbles.length) c.bubbles.append(el("div", { class: "none" }, "No messages yet"));
    for (const b of p.bubbles) {
      const cls = "b " + b.dir + " " + b.channel + (wa && b.channel === "sms" ? " sms-in-wa" : "");
      c.bubbles.append(el("div", { class: cls, "data-sid": b.sid, "data-channel": b.channel, "data-status": b.status || "" },
        (wa && b.channel === "sms") || (!wa && b.channel === "whatsapp") ? el("span", { class: "via" }, channelLabel(b.channel)) : null,
        b.template ? el("span", { class: "tpl" }, "Approved template") : null,
        b.media ? el("img", { src: b.media, alt: "photo" }) : null,
        b.body ? el("span", {}, b.body) : null,
        ticks(b)));
    }
    c.bubbles.scrollTop = c.bubbles.scrollHeight;
    if (grew) {
      const ph = $(".phone", c.root);
      ph.classList.add("flash-ring");
      setTimeout(() => ph.classList.remove("flash-ring"), 900);
    }
  }
  // Re-order only when the filter changed what is shown.
  const shown = [...grid.children];
  if (shown.length !== visible.length || shown.some((n, i) => n !== visible[i])) grid.replaceChildren(...visible);
  $("#phones-summary").textContent = "· " + reached + " of " + stakeholders + " stakeholders reached";
}

// ---- top bar, guide ----

function renderTop() {
  const seg = $("#acting");
  seg.replaceChildren(...state.users.map((u) => el("button", { type: "button", class: u.id === acting ? "on" : "", "data-user": u.id,
    onclick: () => { acting = u.id; localStorage.setItem("herald-demo-acting", acting); render(); } },
    u.name, el("small", {}, u.role))));
  $("#slack-down").checked = state.slackDown;
  const mode = $("#mode");
  if (state.smsOnly) { mode.className = "chip bad"; mode.textContent = "herald: SMS-only"; }
  else if (state.slackDown) { mode.className = "chip warn"; mode.textContent = "Slack failing: herald notices within 3 s"; }
  else { mode.className = "chip ok"; mode.textContent = "Slack connected"; }
  $("#outage-banner").hidden = !state.slackDown;
  const noComposer = state.slackDown || viewing !== "channel";
  $("#composer").classList.toggle("disabled", noComposer);
  $("#composer-input").disabled = noComposer;
}

function renderGuide() {
  const ch = state.channel;
  const text = ch.messages.map((m) => m.text).join("\n");
  const phonesGot = state.phones.some((p) => p.role === "stakeholder" && p.bubbles.some((b) => b.dir === "in"));
  const replied = state.phones.some((p) => p.bubbles.some((b) => b.dir === "out"));
  const done = {
    1: ch.messages.length > 0,
    2: /Approval needed|Approved by|Relay/.test(text) || phonesGot,
    3: phonesGot,
    4: replied,
    5: /Back in chat/.test(text),
  };
  for (const li of document.querySelectorAll("#guide-steps li")) li.classList.toggle("done", !!done[li.dataset.step]);
}

function render() {
  if (!state) return;
  renderTop();
  renderChannel();
  renderModal();
  renderFilters();
  renderPhones();
  renderGuide();
}

// ---- wiring ----

function setupStatic() {
  $("#composer").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const input = $("#composer-input");
    const text = input.value.trim();
    if (!text) return;
    try { await api("/api/command", { user: acting, text }); input.value = ""; } catch (e) { /* toast */ }
  });
  for (const h of document.querySelectorAll(".hint")) {
    h.addEventListener("click", () => { const i = $("#composer-input"); i.value = h.dataset.cmd + " "; i.focus(); });
  }
  for (const b of document.querySelectorAll(".sidebar .chan[data-view]")) {
    b.addEventListener("click", () => { viewing = b.dataset.view; render(); });
  }
  $("#slack-down").addEventListener("change", (ev) => {
    api("/api/slack", { down: ev.target.checked }).catch(() => {});
  });
  const guide = $("#guide");
  const setGuide = (open) => {
    guide.hidden = !open;
    $("#guide-open").hidden = open;
    localStorage.setItem("herald-demo-guide", open ? "open" : "closed");
  };
  $("#guide-close").addEventListener("click", () => setGuide(false));
  $("#guide-open").addEventListener("click", () => setGuide(true));
  setGuide(localStorage.getItem("herald-demo-guide") !== "closed");
  const tick = () => {
    const now = new Date().toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
    for (const c of document.querySelectorAll(".statusbar .clock")) c.textContent = now;
  };
  setInterval(tick, 15000);
  return tick;
}

function connect() {
  const es = new EventSource("/api/events");
  es.addEventListener("state", (ev) => {
    state = JSON.parse(ev.data);
    render();
    clock();
    document.body.dataset.seq = String(state.seq);
  });
  es.onerror = () => { $("#mode").className = "chip warn"; $("#mode").textContent = "reconnecting to the demo…"; };
}

const clock = setupStatic();
connect();
