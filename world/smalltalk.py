"""Distractor small talk: exchanges that carry no persona fact.

Several kinds (weather, arithmetic, unit conversion, word definitions, tech help, jokes, advice, trivia,
writing help, cooking, recommendations), most with slots, so the same exchange rarely repeats. The
assistant's replies are correct where there is a right answer (arithmetic and conversions are computed).
Callers reject an exchange that happens to mention one of the persona's values (`simulate` does).
"""

from __future__ import annotations

import random
from collections.abc import Callable

Exchange = tuple[str, str]

_WEATHER: tuple[Exchange, ...] = (
    ("It's been raining all week here.", "That sounds grim. A good excuse for a warm drink and a film."),
    ("Finally some sunshine today!", "Lovely! Try to get outside for a bit while it lasts."),
    ("It's freezing this morning.", "Wrap up warm and give the car or bike a few extra minutes."),
    ("The wind is crazy today.", "Hold on to your umbrella, and maybe skip the bike today."),
    ("Such a grey, gloomy day.", "Days like that call for a cosy blanket and an easy evening."),
    ("It's way too hot to sleep.", "A fan near an open window and a cool shower before bed can help."),
    ("We had a huge thunderstorm last night.", "Storms can be impressive. I hope nothing got damaged."),
    ("There's fog everywhere this morning.", "Drive slowly and use dipped headlights if you're on the road."),
    ("First frost of the season today.", "Time to dig out the scarves and check the heating."),
    ("The heat is unbearable today.", "Drink plenty of water and stay in the shade when you can."),
    ("It snowed overnight!", "How pretty! Careful on the pavements, they get slippery."),
    ("Perfect autumn weather today.", "Crisp air and falling leaves, great for a long walk."),
    ("It keeps switching between sun and rain.", "Classic changeable weather. Layers and an umbrella, then."),
    ("It's so humid I feel sticky.", "Humidity is the worst. Loose cotton clothes help a bit."),
)

_DEFINITIONS: dict[str, str] = {
    "ephemeral": "lasting for a very short time",
    "ubiquitous": "found everywhere",
    "serendipity": "finding something good by chance",
    "meticulous": "very careful about small details",
    "pragmatic": "dealing with things in a practical way",
    "ambiguous": "open to more than one interpretation",
    "benevolent": "kind and generous",
    "candid": "honest and direct",
    "diligent": "hard-working and careful",
    "eloquent": "fluent and persuasive in speaking or writing",
    "frugal": "careful with money",
    "gregarious": "fond of company",
    "hubris": "excessive pride or self-confidence",
    "impetuous": "acting quickly without thinking",
    "juxtapose": "to place things side by side for contrast",
    "laconic": "using very few words",
    "mundane": "ordinary and dull",
    "nostalgia": "a sentimental longing for the past",
    "obsolete": "no longer in use",
    "paradox": "a statement that seems to contradict itself",
    "quixotic": "idealistic in an unrealistic way",
    "resilient": "able to recover quickly from difficulties",
    "sanguine": "cheerfully optimistic",
    "tenacious": "holding on firmly and not giving up",
    "verbose": "using more words than needed",
    "whimsical": "playfully quaint or fanciful",
    "zealous": "very enthusiastic about a cause",
    "alacrity": "brisk and cheerful readiness",
    "cacophony": "a harsh mix of sounds",
    "dearth": "a scarcity or lack of something",
    "euphemism": "a mild word used in place of a harsh one",
    "facetious": "treating serious things with humour",
    "gratuitous": "done without good reason",
    "idiosyncratic": "peculiar to one person",
    "lethargic": "sluggish and drowsy",
    "meander": "to wander slowly without a fixed direction",
    "nonchalant": "calm and unconcerned",
    "ostentatious": "designed to impress or attract notice",
    "perfunctory": "done without care or interest",
    "reticent": "reluctant to share thoughts or feelings",
    "spurious": "false, though it may look genuine",
    "trepidation": "fear about something that may happen",
    "vicarious": "experienced through someone else",
}

_DEFINITION_ASKS = (
    "What does '{w}' mean?",
    "Can you define '{w}'?",
    "What's the meaning of the word '{w}'?",
    "I keep seeing the word '{w}'. What does it mean?",
    "Quick vocabulary question: what is '{w}'?",
)

_TECH: tuple[Exchange, ...] = (
    (
        "My laptop is running really slowly.",
        "Close programs you aren't using and restart it; a full restart clears out a lot.",
    ),
    (
        "My phone battery drains so fast.",
        "Check which apps use the most battery in settings and lower the screen brightness.",
    ),
    (
        "The wifi keeps dropping out.",
        "Restart the router, and if it keeps happening, move it somewhere more central.",
    ),
    (
        "My printer says it's offline.",
        "Turn the printer off and on, then check it's on the same network as your computer.",
    ),
    (
        "I forgot my email password.",
        "Use the 'forgot password' link on the login page; it will send a reset code.",
    ),
    (
        "My screen keeps flickering.",
        "Try a different cable if it's an external monitor, and update the display driver.",
    ),
    (
        "How do I take a screenshot?",
        "It depends on the device, but most have a keyboard shortcut or a power plus volume button combo.",
    ),
    (
        "My headphones won't connect over Bluetooth.",
        "Forget the device in your Bluetooth settings, then pair it again from scratch.",
    ),
    (
        "My computer fan is really loud.",
        "The vents may be dusty; a gentle blast of compressed air often fixes it.",
    ),
    (
        "I keep getting spam calls.",
        "Most phones can silence unknown callers, and your carrier may offer call blocking.",
    ),
    (
        "My spreadsheet formulas stopped updating.",
        "Check that calculation is set to automatic rather than manual.",
    ),
    (
        "How do I free up space on my phone?",
        "Delete apps you don't use and move old photos and videos to cloud storage.",
    ),
    (
        "The TV remote stopped working.",
        "Try fresh batteries first; if that fails, check nothing is blocking the sensor.",
    ),
    (
        "My keyboard has a sticky key.",
        "Turn it upside down, tap it gently, and clean around the key with a little alcohol.",
    ),
    (
        "Should I install the latest software update?",
        "Generally yes; updates often fix security problems. Back up first to be safe.",
    ),
    (
        "My video calls keep freezing.",
        "Close other apps using the internet and sit closer to the router if you can.",
    ),
)

_JOKES: tuple[str, ...] = (
    "Why don't skeletons fight each other? They don't have the guts.",
    "I told my computer I needed a break, and it said it would go to sleep.",
    "Why did the scarecrow win an award? Because he was outstanding in his field.",
    "What do you call a fake noodle? An impasta.",
    "Why can't a bicycle stand up by itself? It's two-tired.",
    "I'm reading a book about anti-gravity. It's impossible to put down.",
    "Why did the math book look sad? It had too many problems.",
    "What do you call a bear with no teeth? A gummy bear.",
    "Why did the coffee file a police report? It got mugged.",
    "I used to be a banker, but I lost interest.",
    "What's orange and sounds like a parrot? A carrot.",
    "Why don't eggs tell jokes? They'd crack each other up.",
    "How does a penguin build its house? Igloos it together.",
    "Why did the tomato turn red? It saw the salad dressing.",
    "What do you call a sleeping dinosaur? A dino-snore.",
    "Why was the broom late? It over-swept.",
    "I only know 25 letters of the alphabet. I don't know y.",
    "What did the ocean say to the beach? Nothing, it just waved.",
)

_JOKE_ASKS = (
    "Tell me a joke.",
    "Got any jokes?",
    "Make me laugh.",
    "I need a laugh. Hit me with a joke.",
    "Know any good puns?",
)

_ADVICE: tuple[Exchange, ...] = (
    (
        "I can't focus today.",
        "Try working in 25-minute blocks with five-minute breaks, and put your phone in another room.",
    ),
    (
        "I couldn't sleep last night.",
        "Sorry to hear that. Keep screens away for the last hour before bed and try a fixed wake-up time.",
    ),
    (
        "I'm feeling a bit stressed.",
        "Take a few slow breaths, and maybe a short walk. Writing down what's on your mind can help too.",
    ),
    (
        "How do I stop procrastinating?",
        "Start with the smallest possible step, just five minutes. Starting is usually the hardest part.",
    ),
    (
        "Any tips for drinking more water?",
        "Keep a bottle on your desk and refill it at set times, like every meal.",
    ),
    (
        "How can I be more productive in the mornings?",
        "Plan the first task the night before so you can start without deciding.",
    ),
    (
        "I'm nervous about a presentation.",
        "Rehearse out loud a few times and know your first two sentences by heart.",
    ),
    (
        "How do I make small talk at parties?",
        "Ask open questions about what people have been up to, and follow up on their answers.",
    ),
    ("How do I keep a tidy desk?", "Spend two minutes clearing it at the end of each day; it adds up."),
    (
        "I keep forgetting things I need to buy.",
        "Keep a running list on your phone and add items the moment you think of them.",
    ),
    (
        "How do I say no to extra work politely?",
        "Be clear and kind: explain what you're working on and what would have to give.",
    ),
    (
        "I want to read more books.",
        "Carry one with you and read ten pages a day; it quickly becomes a habit.",
    ),
    ("How do I stay motivated to exercise?", "Pick something you enjoy and schedule it like an appointment."),
)

_TRIVIA: tuple[Exchange, ...] = (
    (
        "Why is the sky blue?",
        "Sunlight scatters off air molecules, and short blue wavelengths scatter the most.",
    ),
    ("How far away is the moon?", "About 384,000 kilometres on average."),
    ("How many bones are in the human body?", "An adult has 206 bones."),
    ("At what temperature does water boil?", "At sea level, 100 degrees Celsius."),
    ("How many planets are in the solar system?", "Eight."),
    ("What's the largest ocean?", "The Pacific Ocean."),
    ("How many legs does a spider have?", "Eight."),
    (
        "What is photosynthesis?",
        "It's how plants use sunlight, water and carbon dioxide to make sugar and oxygen.",
    ),
    (
        "Why do leaves change colour in autumn?",
        "The green chlorophyll breaks down, revealing other pigments underneath.",
    ),
    ("How long does sunlight take to reach Earth?", "About eight minutes and twenty seconds."),
    ("What's the tallest mountain on Earth?", "Mount Everest, at about 8,849 metres."),
    ("How many continents are there?", "Seven, by the most common count."),
    ("What gas do plants absorb from the air?", "Carbon dioxide."),
    ("Why does the moon have phases?", "We see different amounts of its sunlit half as it orbits Earth."),
    ("How many hearts does an octopus have?", "Three."),
    ("What's the smallest prime number?", "Two."),
    ("Which planet is the largest?", "Jupiter."),
    ("How many days are in a leap year?", "366."),
    ("What do bees make?", "Honey and beeswax."),
    ("How many minutes are in a day?", "1,440."),
    ("What causes rainbows?", "Sunlight is bent and split into colours by raindrops."),
    ("How many teeth does an adult usually have?", "Usually 32, including wisdom teeth."),
    ("What's the hardest natural material?", "Diamond."),
    ("How fast does sound travel?", "About 343 metres per second in air."),
    (
        "Why is the sea salty?",
        "Rivers carry dissolved minerals into it, and evaporation leaves the salt behind.",
    ),
)

_WRITING: tuple[Exchange, ...] = (
    ("Send me the report now.", "Could you send me the report when you get a chance?"),
    (
        "I can't come to your party.",
        "Unfortunately I won't be able to make it to your party, but thank you for inviting me.",
    ),
    ("You're late again.", "I noticed you've been running late recently; is everything okay?"),
    ("Fix this bug.", "Could you take a look at this bug when you have a moment?"),
    (
        "Your idea won't work.",
        "I have some concerns about whether this idea will work; can we talk it through?",
    ),
    ("Give me a refund.", "I'd like to request a refund, please."),
    ("Answer my email.", "I wanted to follow up on my earlier email when you have time."),
    ("Turn down the music.", "Would you mind turning the music down a little?"),
    ("I need the day off tomorrow.", "Would it be possible for me to take tomorrow off?"),
    (
        "This meeting is pointless.",
        "I'm not sure this meeting is the best use of our time; could we handle it by email?",
    ),
    ("Move your car.", "Could you please move your car when you get a moment?"),
    ("That's wrong.", "I think there might be a mistake here."),
    ("Hurry up.", "Would you be able to speed things up a little?"),
    ("Tell me the price.", "Could you let me know the price, please?"),
)

_WRITING_ASKS = (
    "Can you make this sound more polite: '{s}'",
    "How do I say this more nicely? '{s}'",
    "Rephrase this politely for me: '{s}'",
)

_GRAMMAR: tuple[Exchange, ...] = (
    ("Is it 'fewer people' or 'less people'?", "'Fewer people', because people can be counted."),
    ("What's the difference between 'its' and 'it's'?", "'It's' means 'it is'; 'its' shows possession."),
    ("When do I use a semicolon?", "Use a semicolon to join two closely related complete sentences."),
    ("Is 'alot' a word?", "No, it's written as two words: 'a lot'."),
    ("Affect or effect, which is the verb?", "Usually 'affect' is the verb and 'effect' is the noun."),
    ("Should I write 'whom' after 'to'?", "Yes, 'to whom' is correct in formal writing."),
    ("Is it 'could of' or 'could have'?", "'Could have'. 'Could of' is a mishearing of 'could've'."),
)

_COOKING: tuple[Exchange, ...] = (
    ("How long should I boil an egg?", "About 7 minutes for a jammy yolk and 10 for hard-boiled."),
    (
        "How do I cook rice so it isn't mushy?",
        "Rinse it first, use the right water ratio, and let it rest covered after cooking.",
    ),
    ("Can I freeze bread?", "Yes. Slice it first so you can toast slices straight from the freezer."),
    (
        "What can I use instead of eggs in baking?",
        "A mashed banana or a spoon of ground flaxseed mixed with water works in many recipes.",
    ),
    ("How do I keep herbs fresh?", "Treat soft herbs like flowers: stems in a glass of water in the fridge."),
    ("How long do I roast potatoes?", "About 45 minutes at 200 degrees Celsius, turning them halfway."),
    (
        "How do I stop pasta from sticking?",
        "Use plenty of boiling water and stir it in the first couple of minutes.",
    ),
    (
        "How do I know if an avocado is ripe?",
        "It should give slightly when you press it gently near the stem.",
    ),
    (
        "Is it safe to reheat rice?",
        "Yes, if it was cooled quickly and refrigerated, and you heat it until piping hot.",
    ),
    ("What temperature should I bake cookies at?", "Around 180 degrees Celsius for about 10 to 12 minutes."),
    (
        "How do I make scrambled eggs creamier?",
        "Cook them low and slow, and take them off the heat just before they look done.",
    ),
    ("What's a quick dinner idea?", "A vegetable stir fry with noodles is ready in 15 minutes."),
    (
        "How do I sharpen a kitchen knife?",
        "A whetstone works best; keep a steady angle of about 15 to 20 degrees.",
    ),
)

_RECOMMEND: tuple[Exchange, ...] = (
    (
        "Can you recommend something to watch tonight?",
        "If you want something light, a comedy or a nature documentary is hard to beat.",
    ),
    (
        "I need a book recommendation.",
        "What do you usually enjoy? A short mystery is a good pick if you want a page-turner.",
    ),
    (
        "What's good to listen to on a long drive?",
        "A long-form story podcast or an audiobook makes the hours fly by.",
    ),
    (
        "What should I do this weekend?",
        "How about a walk somewhere new and a slow brunch? Simple but restorative.",
    ),
    (
        "What's a good gift for a coworker?",
        "A nice notebook, good chocolate or a plant are safe and thoughtful.",
    ),
    (
        "Any ideas for a cheap evening out?",
        "A picnic, a free museum night or a walk to a viewpoint at sunset.",
    ),
    ("What's a good rainy day activity?", "Bake something, start a puzzle, or finally sort those photos."),
    (
        "I'm bored. Any suggestions?",
        "Learn a new recipe, call an old friend, or take a walk without your phone.",
    ),
)

_GREETINGS: tuple[Exchange, ...] = (
    ("Hi!", "Hi! How can I help today?"),
    ("Good morning!", "Good morning! How are you doing?"),
    ("Hey there.", "Hey! What's up?"),
    ("Hello again.", "Welcome back! What's on your mind?"),
    ("Evening!", "Good evening! How was your day?"),
    ("Hi, got a minute?", "Of course. What's up?"),
    ("Hey, how are you?", "I'm doing well, thanks for asking. How about you?"),
)

_CLOSINGS: tuple[Exchange, ...] = (
    ("Thanks, that's all for now.", "You're welcome! Talk soon."),
    ("Gotta go, bye!", "Bye! Have a good one."),
    ("Thanks for the chat.", "Anytime!"),
    ("Okay, I'm off to bed.", "Sleep well!"),
    ("Talk later!", "Talk later!"),
    ("That helps, thanks.", "Glad to help!"),
)


def _weather(rng: random.Random) -> Exchange:
    return rng.choice(_WEATHER)


def _arithmetic(rng: random.Random) -> Exchange:
    a, b = rng.randint(2, 99), rng.randint(2, 99)
    op = rng.choice(("times", "plus", "minus", "percent"))
    if op == "times":
        return rng.choice(
            (f"What's {a} times {b}?", f"Quick maths: {a} times {b}?")
        ), f"{a} times {b} is {a * b}."
    if op == "plus":
        return rng.choice(
            (f"What's {a} plus {b}?", f"Can you add {a} and {b} for me?")
        ), f"{a} plus {b} is {a + b}."
    if op == "minus":
        big, small = max(a, b), min(a, b)
        return f"What's {big} minus {small}?", f"{big} minus {small} is {big - small}."
    pct = rng.choice((10, 20, 25, 50))
    n = rng.randint(2, 40) * 20
    return f"What is {pct}% of {n}?", f"{pct}% of {n} is {pct * n // 100}."


def _units(rng: random.Random) -> Exchange:
    n = rng.randint(2, 12)
    choice = rng.randrange(6)
    if choice == 0:
        return f"How many grams are in {n} kilograms?", f"There are {n * 1000} grams in {n} kilograms."
    if choice == 1:
        return f"How many minutes are in {n} hours?", f"{n} hours is {n * 60} minutes."
    if choice == 2:
        c = rng.choice((0, 5, 10, 15, 20, 25, 30, 35, 40))
        return (
            f"What's {c} degrees Celsius in Fahrenheit?",
            f"{c} degrees Celsius is {c * 9 // 5 + 32} degrees Fahrenheit.",
        )
    if choice == 3:
        return f"How many centimetres are in {n} metres?", f"{n} metres is {n * 100} centimetres."
    if choice == 4:
        return f"How many seconds are in {n} minutes?", f"{n} minutes is {n * 60} seconds."
    return f"How many millilitres are in {n} litres?", f"{n} litres is {n * 1000} millilitres."


def _definition(rng: random.Random) -> Exchange:
    word = rng.choice(sorted(_DEFINITIONS))
    return rng.choice(_DEFINITION_ASKS).format(w=word), f"'{word.capitalize()}' means {_DEFINITIONS[word]}."


def _tech(rng: random.Random) -> Exchange:
    return rng.choice(_TECH)


def _joke(rng: random.Random) -> Exchange:
    return rng.choice(_JOKE_ASKS), rng.choice(_JOKES)


def _advice(rng: random.Random) -> Exchange:
    return rng.choice(_ADVICE)


def _trivia(rng: random.Random) -> Exchange:
    return rng.choice(_TRIVIA)


def _writing(rng: random.Random) -> Exchange:
    if rng.random() < 0.35:
        return rng.choice(_GRAMMAR)
    blunt, polite = rng.choice(_WRITING)
    return rng.choice(_WRITING_ASKS).format(s=blunt), f"How about: '{polite}'"


def _cooking(rng: random.Random) -> Exchange:
    return rng.choice(_COOKING)


def _recommend(rng: random.Random) -> Exchange:
    return rng.choice(_RECOMMEND)


SMALLTALK_KINDS: dict[str, Callable[[random.Random], Exchange]] = {
    "weather": _weather,
    "arithmetic": _arithmetic,
    "units": _units,
    "definition": _definition,
    "tech": _tech,
    "joke": _joke,
    "advice": _advice,
    "trivia": _trivia,
    "writing": _writing,
    "cooking": _cooking,
    "recommendation": _recommend,
}


def smalltalk(rng: random.Random, kind: str | None = None) -> tuple[str, str, str]:
    """(kind, user text, assistant text) of one distractor exchange."""
    if kind is None:
        kind = rng.choice(sorted(SMALLTALK_KINDS))
    if kind not in SMALLTALK_KINDS:
        raise ValueError(f"unknown small-talk kind {kind!r}")
    user, assistant = SMALLTALK_KINDS[kind](rng)
    return kind, user, assistant


def greeting(rng: random.Random) -> Exchange:
    return rng.choice(_GREETINGS)


def closing(rng: random.Random) -> Exchange:
    return rng.choice(_CLOSINGS)
