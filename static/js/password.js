/* Password fields (ASVS 2.1.8, 2.1.12). Loaded on every page as a file: the
   Content-Security-Policy forbids inline script.

   - Every <input type="password"> gets a "Show password" button that shows what was
     typed, and hides it again (and before the form is sent).
   - A field marked data-password-meter (a new password) gets a strength meter with
     advice as the person types. The estimate is made here, in the browser, so the
     password is never sent anywhere while it is being typed. It is only a guide: the
     server checks the password with zxcvbn when the form is sent, and that decides. */
(function () {
  "use strict";

  // The 100 passwords people use most often (from the published yearly lists),
  // lower case. A password that is one of them, or one of them with a few digits or
  // symbols around it, is "very weak" whatever its length.
  var COMMON = (
    "123456 password 12345678 qwerty 123456789 12345 1234 111111 1234567 dragon " +
    "123123 baseball abc123 football monkey letmein shadow master 666666 qwertyuiop " +
    "123321 mustang 1234567890 michael 654321 superman 1qaz2wsx 7777777 121212 000000 " +
    "qazwsx 123qwe killer trustno1 jordan jennifer zxcvbnm asdfgh hunter buster " +
    "soccer harley batman andrew tigger sunshine iloveyou charlie robert thomas " +
    "hockey ranger daniel starwars 112233 george computer michelle jessica pepper " +
    "zxcvbn 555555 11111111 131313 freedom 777777 pass maggie 159753 aaaaaa " +
    "ginger princess joshua cheese amanda summer love ashley nicole chelsea " +
    "matthew access yankees 987654321 dallas austin thunder taylor matrix welcome " +
    "admin password1 qwerty123 passw0rd hello secret whatever flower lovely monday"
  ).split(" ");
  var COMMON_SET = {};
  COMMON.forEach(function (word) { COMMON_SET[word] = true; });

  var ROWS = ["abcdefghijklmnopqrstuvwxyz", "0123456789", "qwertyuiop", "asdfghjkl", "zxcvbnm"];
  var LABELS = ["Very weak", "Weak", "Fair", "Strong", "Very strong"];

  // The number of characters an attacker would still have to guess, counting a run
  // of one repeated character, or of neighbours in the alphabet, on a keyboard row
  // or counting up or down, as one character.
  function effectiveLength(text) {
    var lower = text.toLowerCase();
    var count = 0;
    for (var i = 0; i < lower.length; i++) {
      if (i > 0) {
        var pair = lower.substr(i - 1, 2);
        var reversed = pair.charAt(1) + pair.charAt(0);
        var predictable = pair.charAt(0) === pair.charAt(1);
        for (var r = 0; r < ROWS.length && !predictable; r++) {
          predictable = ROWS[r].indexOf(pair) >= 0 || ROWS[r].indexOf(reversed) >= 0;
        }
        if (predictable) { count += 0.2; continue; }
      }
      count += 1;
    }
    return count;
  }

  function alphabet(text) {
    var size = 0;
    if (/[a-z]/.test(text)) { size += 26; }
    if (/[A-Z]/.test(text)) { size += 26; }
    if (/[0-9]/.test(text)) { size += 10; }
    if (/[^a-zA-Z0-9]/.test(text)) { size += 20; }
    return size || 1;
  }

  // {score: 0-4, advice: text}, in the spirit of zxcvbn (scores for about 10^3,
  // 10^6, 10^8 and 10^10 guesses).
  function estimate(text) {
    if (!text) { return { score: 0, advice: "" }; }
    var lower = text.toLowerCase();
    var core = lower.replace(/^[^a-z]+|[^a-z]+$/g, "");
    if (COMMON_SET[lower] || COMMON_SET[core] || COMMON_SET[lower.replace(/[^a-z0-9]/g, "")]) {
      return { score: 0, advice: "This is one of the passwords people use most often." };
    }
    var guessesLog10 = effectiveLength(text) * Math.log(alphabet(text)) / Math.LN10;
    // A word with a capital letter first and digits or a year after it is one of
    // the first patterns tried: count it as the word alone, plus a little.
    var pattern = /^[A-Za-z][a-z]+[0-9!?.]{0,6}$/.test(text);
    if (pattern) { guessesLog10 = Math.min(guessesLog10, 5 + (text.length - core.length)); }
    var score = guessesLog10 < 3 ? 0 : guessesLog10 < 6 ? 1 : guessesLog10 < 8 ? 2 :
      guessesLog10 < 10 ? 3 : 4;
    if (text.length < 12) { score = Math.min(score, 1); }
    var advice;
    if (text.length < 12) {
      advice = "Use at least 12 characters.";
    } else if (effectiveLength(text) < text.length * 0.6) {
      advice = "Repeated letters and runs such as abc or 123 are easy to guess.";
    } else if (pattern) {
      advice = "A word with numbers after it is one of the first things tried.";
    } else if (score < 3) {
      advice = "Add another word or two; unrelated words are best.";
    } else {
      advice = "Good. The server checks it again when you save it.";
    }
    return { score: score, advice: advice };
  }

  var counter = 0;
  function idFor(input) {
    if (!input.id) { counter += 1; input.id = "password-field-" + counter; }
    return input.id;
  }

  function addToggle(input) {
    var button = document.createElement("button");
    button.type = "button";
    button.className = "password-toggle button button--secondary button--small";
    button.setAttribute("aria-controls", idFor(input));
    button.setAttribute("aria-pressed", "false");
    button.textContent = "Show password";
    button.addEventListener("click", function () {
      var show = input.type === "password";
      input.type = show ? "text" : "password";
      button.setAttribute("aria-pressed", show ? "true" : "false");
      button.textContent = show ? "Hide password" : "Show password";
      input.focus();
    });
    if (input.form) {
      // Never sent, or offered to the browser's password store, as plain text.
      input.form.addEventListener("submit", function () {
        input.type = "password";
        button.setAttribute("aria-pressed", "false");
        button.textContent = "Show password";
      });
    }
    var wrapper = document.createElement("div");
    wrapper.className = "password-input";
    input.parentNode.insertBefore(wrapper, input);
    wrapper.appendChild(input);
    wrapper.appendChild(button);
  }

  function addMeter(input) {
    var box = document.createElement("div");
    box.className = "password-strength";
    box.id = idFor(input) + "-strength";
    var meter = document.createElement("meter");
    meter.className = "password-strength__meter";
    meter.min = 0;
    meter.max = 4;
    meter.low = 2;
    meter.high = 3;
    meter.optimum = 4;
    meter.value = 0;
    meter.setAttribute("aria-label", "Password strength");
    var text = document.createElement("p");
    text.className = "password-strength__text";
    text.setAttribute("aria-live", "polite");
    box.appendChild(meter);
    box.appendChild(text);
    var after = input.closest(".password-input") || input;
    after.parentNode.insertBefore(box, after.nextSibling);
    var described = input.getAttribute("aria-describedby");
    input.setAttribute("aria-describedby", (described ? described + " " : "") + box.id);

    function update() {
      var value = input.value;
      var result = estimate(value);
      meter.value = value ? result.score : 0;
      box.setAttribute("data-score", value ? String(result.score) : "");
      text.textContent = value ? "Strength: " + LABELS[result.score] + ". " + result.advice : "";
    }
    input.addEventListener("input", update);
    update();
  }

  var fields = document.querySelectorAll("input[type=password]");
  for (var i = 0; i < fields.length; i++) {
    addToggle(fields[i]);
    if (fields[i].hasAttribute("data-password-meter")) { addMeter(fields[i]); }
  }
})();
