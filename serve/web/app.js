// The page's behaviour: upload an image to classify and draw its top-5
// classes as bars; show the evaluation once GET eval reports it done.
"use strict";

const $ = (id) => document.getElementById(id);

function showError(message) {
  $("error").textContent = message;
  $("error").hidden = false;
}

async function classify(file) {
  $("error").hidden = true;
  $("preview").src = URL.createObjectURL(file);
  const form = new FormData();
  form.append("img", file);
  form.append("topk", "5");
  let answer;
  try {
    const resp = await fetch("classify", { method: "POST", body: form });
    answer = await resp.json();
    if (!resp.ok) {
      showError(answer.error || "the server answered " + resp.status);
      return;
    }
  } catch (err) {
    showError("the server could not be reached: " + err);
    return;
  }
  render(answer);
}

function render(answer) {
  $("model").textContent = "model " + answer.model;
  const list = $("results");
  list.replaceChildren();
  if (!answer.predictions) {
    const n = answer.embedding ? answer.embedding.length : 0;
    $("model").textContent += ": an embedding model (" + n + " values), no classes";
  }
  for (const p of answer.predictions || []) {
    const item = document.createElement("li");
    const label = document.createElement("span");
    label.className = "label";
    label.textContent = p.label;
    const track = document.createElement("div");
    track.className = "track";
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.style.width = (100 * p.probability).toFixed(1) + "%";
    track.append(bar);
    const pct = document.createElement("span");
    pct.className = "pct";
    pct.textContent = (100 * p.probability).toFixed(1) + "%";
    item.append(label, track, pct);
    list.append(item);
  }
  $("answer").hidden = false;
}

function setupDrop() {
  const drop = $("drop");
  $("file").addEventListener("change", (e) => {
    if (e.target.files.length > 0) classify(e.target.files[0]);
  });
  drop.addEventListener("dragover", (e) => {
    e.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    if (e.dataTransfer.files.length > 0) classify(e.dataTransfer.files[0]);
  });
}

const percent = (x) => (100 * x).toFixed(1) + "%";

async function pollEval() {
  let st;
  try {
    st = await (await fetch("eval")).json();
  } catch (err) {
    setTimeout(pollEval, 5000);
    return;
  }
  if (st.status === "off") return;
  $("eval").hidden = false;
  const summary = $("eval-summary");
  if (st.status === "running") {
    summary.textContent = "Evaluating on " + st.dataset + ": " + st.done + " of " +
      st.total + " images, top-1 so far " + percent(st.top1);
    setTimeout(pollEval, 2000);
    return;
  }
  if (st.status === "failed") {
    summary.textContent = "The evaluation failed: " + st.error;
    return;
  }
  summary.textContent = "Top-1 accuracy on " + st.dataset + ": " + percent(st.top1) +
    " (" + st.correct + " of " + st.total + " images)";
  const body = document.querySelector("#per-class tbody");
  body.replaceChildren();
  for (const c of st.per_class || []) {
    const row = document.createElement("tr");
    for (const [text, cls] of [[c.class, ""], [percent(c.top1), "num"],
      [c.correct + " / " + c.total, "num"]]) {
      const cell = document.createElement("td");
      cell.textContent = text;
      cell.className = cls;
      row.append(cell);
    }
    body.append(row);
  }
  $("confusion").src = "eval/confusion.png";
  $("eval-done").hidden = false;
}

setupDrop();
pollEval();
