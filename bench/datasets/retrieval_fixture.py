"""A small known-item retrieval set: passages, questions with the passage that answers each,
and questions nothing here answers.

Written for this project (no external data). Half of the questions use the passage's own
words (what full text is good at); the other half say the same thing in other words,
most sharing no significant word with their passage (what full text cannot find). The
``UNANSWERABLE`` questions measure the vector similarity floor (``VECTOR_SIMILARITY_FLOOR``).

Used by tests/knowledge/test_knowledge_vectors.py (the hybrid Recall@5 gate) and
bench/retrieval.py (Recall@5 and MRR@10 of each ranking).
"""

#: ``(key, heading, text)``: one chunk each.
PASSAGES = [
    ("protein", "Nutrition", "Adults need about 0.8 grams of protein per kilogram of body weight each day; athletes "
     "in heavy training may need up to twice that."),
    ("train", "Travel", "The night train to Vienna leaves platform nine at 22:40 and arrives at 07:15; sleeper "
     "cabins must be booked a week ahead."),
    ("password", "IT policy", "Passwords must be at least fourteen characters long and are changed only when a "
     "breach is suspected, not on a fixed schedule."),
    ("vacation", "HR", "Full-time staff accrue twenty-five days of paid leave per year; up to five unused days "
     "carry over to the next year."),
    ("expenses", "Finance", "Receipts for travel costs are submitted in the expense tool within thirty days of "
     "the trip, with the project code."),
    ("parking", "Facilities", "The car park behind building C is reserved for visitors and for colleagues with a "
     "disability badge."),
    ("backup", "IT operations", "Database snapshots are taken every night at 02:00 and kept for ninety days in a "
     "second region."),
    ("fire", "Safety", "When the alarm sounds, leave by the nearest stairway, never the lifts, and gather at the "
     "assembly point on the lawn."),
    ("onboarding", "HR", "On their first morning, newcomers collect a laptop and an access card from reception "
     "and meet their mentor."),
    ("coffee", "Kitchen", "The espresso machine is descaled every Friday; please empty the grounds drawer when "
     "the light turns orange."),
    ("invoice", "Finance", "Supplier bills are paid thirty days after receipt, provided the purchase order "
     "number appears on them."),
    ("vpn", "IT policy", "Remote access to internal systems goes through the corporate tunnel client with "
     "two-factor sign-in."),
    ("printer", "Facilities", "The colour printer on floor two jams with heavy card stock; use the tray on the "
     "left side for thick paper."),
    ("security", "Safety", "Visitors wear a red lanyard and are accompanied by their host at all times inside "
     "the building."),
    ("sick", "HR", "If you are ill, tell your manager before ten o'clock; from the fourth day of absence a "
     "doctor's note is required."),
    ("garden", "Botany", "Tomato seedlings should be planted out after the last frost, spaced sixty centimetres "
     "apart and watered at the base."),
    ("bread", "Cooking", "Sourdough rises slowly: leave the shaped loaf in the refrigerator overnight before "
     "baking it at 240 degrees."),
    ("volcano", "Geology", "Shield volcanoes such as Mauna Loa are built by fluid basalt lava flows that travel "
     "far from the vent."),
    ("heart", "Medicine", "A resting pulse between sixty and one hundred beats per minute is considered normal "
     "for adults."),
    ("moon", "Astronomy", "The Moon always shows the same face to Earth because its rotation period equals its "
     "orbital period."),
    ("bees", "Biology", "Honey bees communicate the direction of flowers to their hive mates with a waggle "
     "dance."),
    ("tax", "Finance", "Quarterly sales tax returns are due on the twentieth day after the end of each "
     "quarter."),
    ("meeting", "Team", "The weekly planning session is held on Mondays at nine and lasts no longer than "
     "thirty minutes."),
    ("bike", "Facilities", "Bicycles may be stored in the locked shed by the north entrance; ask reception for "
     "a key fob."),
    ("privacy", "Legal", "Personal data of customers is deleted two years after the last purchase unless the "
     "law requires keeping it longer."),
    ("contract", "Legal", "Agreements above fifty thousand euros need the signature of two directors."),
    ("wifi", "IT operations", "Guests connect to the wireless network named Lobby using the code printed on "
     "their badge."),
    ("plants", "Facilities", "Office greenery is watered by a contractor every Tuesday; do not move the pots "
     "into direct sun."),
    ("library", "Culture", "Borrowed books may be kept for three weeks and renewed twice online."),
    ("salary", "HR", "Pay is transferred on the last working day of every month."),
    ("recycling", "Facilities", "Paper, glass and plastic go into the coloured bins on each floor; batteries "
     "are taken back at reception."),
    ("laptop", "IT operations", "A stolen or lost computer must be reported to the service desk within one "
     "hour so that it can be locked remotely."),
    ("travelinsurance", "Travel", "Business trips abroad are covered by the company's insurance, including "
     "medical treatment and repatriation."),
    ("ergonomics", "Safety", "Screens should sit at arm's length with the top edge at eye level to avoid neck "
     "strain."),
    ("whale", "Biology", "Blue whales are the largest animals ever known, reaching about thirty metres in "
     "length."),
    ("rain", "Weather", "Monsoon season brings most of the region's annual rainfall between June and "
     "September."),
    ("chess", "Games", "In chess, castling moves the king two squares towards a rook, which then jumps over "
     "the king."),
    ("piano", "Music", "A concert grand piano has eighty-eight keys and more than two hundred strings."),
    ("antibiotics", "Medicine", "Antibiotics treat bacterial infections and do nothing against viruses such "
     "as the common cold."),
    ("canal", "History", "The Panama Canal opened in 1914 and lets ships avoid the long route around Cape "
     "Horn."),
]

#: ``(question, key of the passage that answers it)``: first in the passage's words, then in others.
QUESTIONS = [
    # Worded like the passage.
    ("How many grams of protein per kilogram do adults need?", "protein"),
    ("When does the night train to Vienna leave?", "train"),
    ("How long must passwords be?", "password"),
    ("How many days of paid leave do full-time staff accrue?", "vacation"),
    ("Where are travel receipts submitted?", "expenses"),
    ("When are database snapshots taken?", "backup"),
    ("What happens to the espresso machine on Friday?", "coffee"),
    ("When are supplier bills paid?", "invoice"),
    ("Which tray of the colour printer takes thick paper?", "printer"),
    ("When should tomato seedlings be planted out?", "garden"),
    ("How are shield volcanoes built?", "volcano"),
    ("How do honey bees communicate the direction of flowers?", "bees"),
    ("When are quarterly sales tax returns due?", "tax"),
    ("Where may bicycles be stored?", "bike"),
    ("How many keys does a concert grand piano have?", "piano"),
    # The same needs in other words.
    ("How much meat or beans should a grown-up eat?", "protein"),
    ("Is there an overnight rail connection to Austria's capital?", "train"),
    ("What should I do if my computer gets nicked?", "laptop"),
    ("Can I roll over holidays I didn't take?", "vacation"),
    ("Where do guests leave their cars?", "parking"),
    ("What do I do when the building is burning?", "fire"),
    ("What do new hires get on day one?", "onboarding"),
    ("How do I reach the intranet from home?", "vpn"),
    ("Who escorts outsiders around the premises?", "security"),
    ("I feel unwell, whom do I inform?", "sick"),
    ("How do I make a slow-fermented loaf?", "bread"),
    ("Why do we always see one side of our satellite?", "moon"),
    ("What is a normal heartbeat for a resting person?", "heart"),
    ("How long do we keep shoppers' information?", "privacy"),
    ("Who must approve a big deal?", "contract"),
    ("When do we get paid?", "salary"),
    ("Where do I throw away used batteries?", "recycling"),
    ("Am I covered if I fall ill on a work trip overseas?", "travelinsurance"),
    ("How should I place my monitor?", "ergonomics"),
    ("What is the biggest creature on the planet?", "whale"),
    ("Do penicillin-type drugs help against flu?", "antibiotics"),
    ("Which shortcut spared sailors the trip around South America?", "canal"),
]

#: Questions nothing above answers: the vector ranking's best similarity for each must stay
#: under the floor, so that "no matching knowledge" still happens.
UNANSWERABLE = [
    "Who won the football world cup in 1966?",
    "What is the airspeed of an unladen swallow?",
    "Recommend a good horror film for tonight",
    "What's the capital of Mongolia?",
    "Explain quantum entanglement to me",
]
