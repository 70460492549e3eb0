"""A small retrieval benchmark of our own: documents a company might keep, and questions people ask.

Each question names the document and a phrase of the passage that answers it;
a question is answered "within k" when a chunk holding that phrase is among the
top k hits. Questions are written the way people ask, not copied from the text:
some share few words with their answer (paraphrase), which full-text search
cannot always bridge; that is what the measured recall reflects.
"""

DOCUMENTS = {
    "travel-policy.md": """# Travel policy

## Booking
Book flights and hotels through the company travel portal at least fourteen days before departure.
Economy class is the default for flights shorter than six hours; business class needs a director's approval.

## Expenses
Meals are reimbursed up to 45 euros per day when travelling abroad. Keep every receipt and submit them
in the expense tool within thirty days of your return. Taxis are allowed when public transport is not available.

## Insurance
Every business trip is covered by the group travel insurance. In a medical emergency call the assistance
number printed on the back of your badge; it answers day and night.

## Rail
Trains are preferred over flights for journeys under four hours. First class rail is allowed for trips
longer than three hours.
""",
    "it-handbook.md": """# IT handbook

## Passwords
Passwords must be at least fourteen characters long and are changed only when there is a sign of compromise.
Use the password manager that the company provides; never reuse a password between services.

## Laptops
New laptops are ordered by your manager and prepared by the service desk within five working days.
A lost or stolen laptop must be reported to security within one hour so it can be wiped remotely.

## VPN
The VPN client connects automatically on untrusted networks such as hotels and cafes. If it fails,
restart the client and check that your certificate has not expired.

## Printing
Printers on every floor accept badge release printing: send the job, then hold your badge to the printer.
""",
    "onboarding.md": """# Onboarding

## First day
On your first day, collect your badge at reception on the ground floor at nine o'clock. Your buddy will take
you to lunch and show you the building.

## Accounts
Your email account and chat access are created by the service desk before you arrive. The temporary password
is sent to your manager, who hands it to you on paper.

## Probation
The probation period lasts six months. A review meeting with your manager takes place after three months.

## Training
Mandatory courses on data protection and workplace safety must be completed within your first month.
""",
    "leave.md": """# Leave and absence

## Annual leave
Full-time employees receive twenty-eight days of paid annual leave per calendar year. Up to five unused days
may be carried over to the next year and must be taken before the end of March.

## Sick leave
If you are ill, tell your manager before ten in the morning. From the fourth day of illness a doctor's
certificate is required.

## Parental leave
Parents may take up to sixteen weeks of paid parental leave within the first year after a birth or adoption.

## Public holidays
The office is closed on public holidays of the country where you are employed. A list is published every December.
""",
    "security.md": """# Security rules

## Visitors
Visitors sign in at reception, wear a visitor badge at all times, and are accompanied by their host.

## Clean desk
Lock your screen whenever you leave your desk. Confidential papers go in the locked shredding bins, never in
ordinary waste.

## Phishing
Report suspicious emails with the phishing button in the mail client. Never open attachments from unknown senders
or enter your password on a page reached from an email link.

## Incidents
Any security incident, such as a data leak or a virus warning, is reported to the security team at once through
the incident hotline.
""",
    "kitchen.md": """# Office kitchen

## Coffee machine
The coffee machine is descaled every Friday by the facilities team. If it shows a red light, do not open the
front panel; call facilities.

## Fridge
The fridge is emptied every Friday afternoon. Label your food with your name and the date.

## Dishes
Put used cups and plates in the dishwasher, not in the sink. The last person to leave starts the dishwasher.
""",
    "remote-work.md": """# Remote work

## Eligibility
Employees may work from home up to three days a week after their probation period, with their manager's agreement.

## Equipment allowance
A one-time allowance of 300 euros covers a desk chair, a monitor or a headset for the home office.

## Working abroad
Working from another country is allowed for up to twenty days per year and must be requested from HR in advance,
because of tax and social security rules.

## Availability
Core hours are from ten to four: be reachable by chat and phone during that time.
""",
    "sales-faq.md": """# Sales FAQ

## Discounts
Account managers may grant discounts of up to 15 percent. Larger discounts need approval from the sales director.

## Contracts
Standard contracts run for twelve months and renew automatically unless cancelled three months before the end.

## Invoices
Invoices are sent on the first working day of each month and are payable within thirty days.

## Refunds
Customers who cancel within fourteen days of signing receive a full refund of any prepaid fees.
""",
}

#: (question, document, phrase of the answering passage)
QUESTIONS = [
    ("How far in advance should I book a flight?", "travel-policy.md", "fourteen days before departure"),
    ("Can I fly business class?", "travel-policy.md", "business class needs a director"),
    ("What is the daily meal allowance abroad?", "travel-policy.md", "45 euros per day"),
    ("Who do I call in a medical emergency on a trip?", "travel-policy.md", "assistance"),
    ("Is first class allowed on the train?", "travel-policy.md", "First class rail"),
    ("How long must my password be?", "it-handbook.md", "fourteen characters"),
    ("What should I do if my laptop is stolen?", "it-handbook.md", "reported to security within one hour"),
    ("The VPN does not connect from the hotel", "it-handbook.md", "restart the client"),
    ("How do I print a document?", "it-handbook.md", "badge release printing"),
    ("Where do I pick up my badge on the first day?", "onboarding.md", "collect your badge at reception"),
    ("How long is the probation period?", "onboarding.md", "six months"),
    ("Which courses are mandatory?", "onboarding.md", "data protection and workplace safety"),
    ("How many vacation days do I get?", "leave.md", "twenty-eight days"),
    ("Can unused holiday be carried over to next year?", "leave.md", "carried over"),
    ("When do I need a doctor's note?", "leave.md", "doctor's certificate"),
    ("How long is parental leave?", "leave.md", "sixteen weeks"),
    ("What must visitors wear?", "security.md", "visitor badge"),
    ("How do I report a phishing email?", "security.md", "phishing button"),
    ("Who handles a data leak?", "security.md", "incident hotline"),
    ("The coffee machine shows a red light", "kitchen.md", "red light"),
    ("When is the fridge cleaned out?", "kitchen.md", "fridge is emptied"),
    ("How many days a week can I work from home?", "remote-work.md", "three days a week"),
    ("Is there money for a home office chair?", "remote-work.md", "300 euros"),
    ("Can I work from another country for a while?", "remote-work.md", "another country"),
    ("What are the core hours?", "remote-work.md", "Core hours"),
    ("What is the maximum discount a sales rep can give?", "sales-faq.md", "15 percent"),
    ("Do contracts renew automatically?", "sales-faq.md", "renew automatically"),
    ("When are invoices due?", "sales-faq.md", "payable within thirty days"),
    ("Can a customer get their money back?", "sales-faq.md", "full refund"),
    ("What happens to my leftover vacation?", "leave.md", "carried over"),
    ("Who sets up my email before I start?", "onboarding.md", "email account"),
    ("Should I take the train or the plane for short trips?", "travel-policy.md", "Trains are preferred"),
]
