"""Value pools for the persona world: names, places, employers, things.

All written for this project (no downloaded lists). Rules the lists follow, because scoring matches answer
spans as whole words in free text:
- ASCII only, 1-3 words, no periods (a period would end the "first sentence" in `scoring`).
- No value that is also a common English word or a value of a different pool (no "Will", "Rose",
  "Georgia", pet "Waffles" next to food "waffles"). `tests/eval/test_world_pools.py` checks disjointness.
- Per persona, `facts.sample_value` also refuses any value that contains, or is contained in, a value the
  persona already uses, so one answer span never matches inside another.
"""

from __future__ import annotations

import hashlib


def _words(block: str) -> tuple[str, ...]:
    """Split a comma-separated block into stripped, non-empty entries (order kept)."""
    return tuple(" ".join(item.split()) for item in block.split(",") if item.strip())


FEMALE_NAMES = _words(
    """
    Ada, Adele, Agnes, Aisha, Alba, Alice, Alina, Alma, Amara, Amelia, Ana, Anika, Annika, Astrid, Aurora,
    Ayla, Beatrix, Bianca, Brenda, Bridget, Camila, Carla, Carmen, Cecilia, Celine, Chiara, Clara, Colette,
    Dalia, Daniela, Delia, Diana, Dina, Edith, Elena, Eliza, Ella, Elodie, Elsa, Emilia, Emma, Erin, Esme,
    Esther, Eva, Fatima, Fiona, Freya, Frida, Gemma, Gina, Greta, Hana, Hannah, Harriet, Helena, Helga,
    Hilda, Ida, Imani, Ines, Ingrid, Irene, Isla, Ivana, Jana, Jenna, Johanna, Julia, Juliet, Kamala, Karin,
    Katya, Keira, Kiara, Lara, Laura, Layla, Leah, Leila, Lena, Lidia, Linnea, Livia, Lorena, Lucia, Lucy,
    Luisa, Lydia, Mabel, Maeve, Magda, Maia, Malia, Mara, Marta, Matilda, Maya, Megan, Mila, Mina, Mira,
    Miriam, Nadia, Naomi, Natalia, Nell, Nina, Noor, Nora, Olga, Olivia, Paloma, Paula, Petra, Phoebe,
    Priya, Rachel, Rania, Rebecca, Rhea, Rita, Rosa, Ruth, Sabine, Sadie, Salma, Sana, Sara, Selma, Silvia,
    Simone, Sofia, Sonia, Stella, Svetlana, Tamara, Tara, Tess, Thea, Tilda, Uma, Ursula, Valentina, Vera,
    Vivian, Wanda, Wendy, Willa, Xenia, Yara, Yasmin, Yvonne, Zara, Zelda, Agatha, Beth, Bonnie, Carys,
    Dorothy, Elif, Eleni, Farah, Gloria, Greer, Imogen, Janet, Joanna, Kate, Lorna, Marisol, Martha, Meera,
    Molly, Nicola, Odette, Penelope, Renata, Rosalind, Signe, Talia, Ulla, Vesna, Winifred, Yuki, Zainab,
    Aiko, Mei, Ingeborg, Leonie, Margot, Noemi, Oona, Pilar, Rosalie, Saoirse, Tove, Ottilie, Henrietta,
    Lisette, Annabel, Corinne, Delphine, Estelle, Fleur, Giselle, Heloise, Isadora, Josephine, Louisa,
    Marianne, Nadine
    """
)

MALE_NAMES = _words(
    """
    Aaron, Abel, Adrian, Ahmed, Alan, Albert, Aldo, Alexei, Alfie, Amir, Anders, Andre, Anton, Arjun, Arlo,
    Arthur, Axel, Bastian, Ben, Bernard, Bjorn, Boris, Bruno, Caleb, Callum, Carlos, Casper, Cedric, Cian,
    Conrad, Cyril, Damian, Daniel, Dario, David, Declan, Dmitri, Duncan, Edgar, Edwin, Elias, Emil, Enzo,
    Eric, Ethan, Evan, Ezra, Fabian, Felix, Finn, Florian, Gabriel, Gareth, Gideon, Gordon, Gregor, Gustav,
    Hamid, Hans, Harvey, Hector, Henrik, Hugo, Ian, Idris, Igor, Ivan, Jakob, James, Jasper, Javier, Joel,
    Jonas, Jorge, Julian, Kai, Karim, Kenji, Kieran, Klaus, Lars, Leon, Leonardo, Liam, Lionel, Lorenzo,
    Luca, Lucas, Luis, Magnus, Malik, Marco, Marius, Mateo, Matthias, Milo, Mohammed, Nathan, Nikolai,
    Niall, Noah, Oliver, Omar, Oscar, Otto, Owen, Pablo, Pavel, Pedro, Philip, Quentin, Rafael, Ravi,
    Raymond, Reuben, Rhys, Ricardo, Roman, Rory, Rufus, Rupert, Samir, Samuel, Sebastian, Sergei, Silas,
    Simon, Stefan, Sven, Tariq, Theo, Thomas, Tobias, Tomas, Ulrich, Umar, Victor, Viktor, Vincent, Walter,
    Wesley, Xavier, Yannick, Yusuf, Zachary, Zane, Anselm, Bertram, Clement, Dominic, Eamon, Fergus,
    Gunnar, Horace, Ibrahim, Jules, Kofi, Lachlan, Mathis, Nils, Oskar, Percy, Ronan, Soren, Tobin, Vaughn,
    Wilfred, Yosef, Benedikt, Cosmo, Desmond, Elliot, Frederik, Giles, Hakon, Ignatius, Jonah, Kasimir,
    Leopold, Mortimer, Nestor, Orson, Piers, Raul, Stellan, Thaddeus, Ulysses, Wolfgang, Yuri, Hiroshi,
    Kwame, Tadeo, Emeka, Arvid, Linus, Ambrose
    """
)

NEUTRAL_NAMES = _words(
    """
    Alex, Ari, Avery, Blake, Cameron, Casey, Charlie, Dakota, Devon, Drew, Eden, Emerson, Finley, Frankie,
    Harley, Hayden, Jamie, Jesse, Kendall, Kim, Lee, Logan, Morgan, Noel, Parker, Peyton, Quinn, Reese,
    Remy, Riley, Robin, Rowan, Sam, Sasha, Shay, Skyler, Tatum, Taylor, Toni, Val, Wren, Yael, Kit,
    Marlowe, Sidney, Ellis, Hollis, Jody, Kacey, Lou, Mackenzie, Perry, Sol, Tegan, Arden, Bailey, Briar,
    Darcy, Emery, Jaden, Linden, Micah, Oakley, Shiloh, Marley
    """
)

PET_NAMES = _words(
    """
    Biscuit, Pepper, Mochi, Noodle, Pickle, Bramble, Ziggy, Rex, Fido, Bella, Luna, Coco, Rocky, Buster,
    Duke, Scout, Maple, Pumpkin, Nacho, Tofu, Peanut, Muffin, Shadow, Smokey, Whiskers, Mittens, Socks,
    Pixel, Widget, Gizmo, Bandit, Boomer, Bubbles, Chewie, Dusty, Fudge, Gus, Hobbes, Jinx, Loki,
    Marmalade, Nugget, Oreo, Patches, Pebbles, Pippin, Pongo, Rascal, Sprocket, Tango, Toffee, Truffle,
    Tigger, Wiggles, Yoshi, Zorro, Archie, Barley, Beans, Bolt, Bonbon, Bruiser, Cinder, Clover, Crumpet,
    Dobby, Domino, Dumpling, Echo, Fizz, Flapjack, Frodo, Goose, Gravy, Hercules, Honey, Indie, Jellybean,
    Juniper, Lego, Lolly, Marbles, Minnie, Misty, Monty, Moose, Murphy, Nala, Nemo, Nibbles, Phantom,
    Pogo, Poppy, Puddles, Quincy, Ranger, Ripley, Rolo, Rusty, Sable, Simba, Skippy, Snickers, Sparky,
    Spud, Squeak, Sunny, Tinker, Toby, Trixie, Tucker, Turbo, Twix, Velvet, Winnie, Yoda, Zeus, Apollo,
    Athena, Bambi, Captain, Doodle, Frosty, Hazelnut, Lucky, Mister, Nutmeg, Otis, Pip, Sprout, Tater,
    Thor, Wally, Ozzy, Bowie, Dexter, Biscotti, Kipper, Scooter, Bingo, Fuzzy, Waldo, Chuckles, Ferdinand,
    Gatsby, Houdini, Igloo, Jelly, Kismet, Lulu, Mr Pickles, Nimbus, Oddball, Pudding, Ziggy Stardust
    """
)

CITIES = _words(
    """
    Aberdeen, Adelaide, Albuquerque, Amsterdam, Antwerp, Asheville, Athens, Auckland, Austin, Baltimore,
    Barcelona, Basel, Belfast, Bergen, Berlin, Bilbao, Birmingham, Bologna, Bordeaux, Boston, Boulder,
    Bremen, Brighton, Brisbane, Bristol, Brno, Bruges, Brussels, Budapest, Busan, Cairns, Calgary,
    Cambridge, Canberra, Cardiff, Charleston, Chicago, Cincinnati, Cleveland, Cologne, Copenhagen, Cork,
    Coventry, Dallas, Denver, Detroit, Dresden, Dublin, Dundee, Dunedin, Durban, Durham, Edinburgh,
    Eindhoven, Exeter, Florence, Frankfurt, Freiburg, Galway, Gdansk, Geneva, Genoa, Ghent, Glasgow,
    Gothenburg, Granada, Graz, Groningen, Halifax, Hamburg, Hanover, Helsinki, Hobart, Honolulu, Houston,
    Innsbruck, Inverness, Istanbul, Jaipur, Kyoto, Krakow, Leeds, Leipzig, Leicester, Leiden, Lille,
    Limerick, Lisbon, Liverpool, Ljubljana, Lyon, Madrid, Malaga, Malmo, Manchester, Marseille, Melbourne,
    Memphis, Milan, Milwaukee, Minneapolis, Montpellier, Montreal, Munich, Nairobi, Nantes, Naples,
    Nashville, Newcastle, Norwich, Nottingham, Oakland, Odense, Omaha, Osaka, Oslo, Ottawa, Oxford, Padua,
    Palermo, Perth, Philadelphia, Pittsburgh, Plymouth, Porto, Portland, Prague, Raleigh, Reykjavik, Riga,
    Rotterdam, Sacramento, Salzburg, Santiago, Sapporo, Seattle, Seville, Sheffield, Stockholm, Stuttgart,
    Swansea, Tallinn, Tampa, Tampere, Toledo, Toronto, Toulouse, Trieste, Tucson, Turin, Uppsala, Utrecht,
    Valencia, Vancouver, Venice, Verona, Vienna, Vilnius, Warsaw, Wellington, Winnipeg, Wroclaw, York,
    Zagreb, Zurich, San Diego, San Francisco, Los Angeles, New Orleans, Salt Lake City, Kansas City,
    Cape Town, Hong Kong, Buenos Aires, Rio de Janeiro, Tel Aviv, Aarhus, Alicante, Arnhem, Bournemouth,
    Cadiz, Canterbury, Cluj, Como, Cordoba, Dortmund, Essen, Fresno, Gijon, Hartford, Heidelberg,
    Ipswich, Kassel, Kingston, Lausanne, Lucerne, Lund, Maastricht, Mainz, Mannheim, Nuremberg, Oviedo,
    Pamplona, Parma, Pisa, Poznan, Rennes, Rouen, Siena, Strasbourg, Tartu, Trondheim, Tromso, Turku, Ulm,
    Vigo, Windsor, Worcester, Zaragoza, Anchorage, Boise, Burlington, Charlotte, Columbus, Fargo,
    Knoxville, Lexington, Missoula, Orlando, Reno, Richmond, Spokane, Tulsa, Wichita, Geelong, Ballarat,
    Townsville, Hamilton, Napier, Rotorua, Christchurch, Nagoya, Fukuoka, Sendai, Incheon, Daegu, Taipei,
    Kaohsiung, Hanoi, Penang, Chennai, Pune, Mysore, Kochi, Lahore, Accra, Kampala, Kigali, Lagos, Dakar,
    Tunis, Marrakesh, Fez, Windhoek, Lima, Cusco, Quito, Bogota, Medellin, Montevideo, Valparaiso, Rosario,
    Curitiba, Recife, Havana, Saskatoon, Edmonton, Kelowna
    """
)

DESTINATIONS = _words(
    """
    Portugal, Iceland, Japan, Morocco, Peru, Vietnam, Norway, Greece, Croatia, Mexico, Chile, Kenya,
    Tanzania, Sri Lanka, New Zealand, Canada, Scotland, Ireland, Wales, Sicily, Sardinia, Corsica, Crete,
    Tuscany, Provence, Bavaria, Andalusia, Patagonia, Tasmania, Bali, Lapland, Cornwall, Brittany,
    Normandy, Thailand, Cambodia, Laos, Malaysia, Indonesia, Nepal, Bhutan, India, Egypt, Tunisia,
    Namibia, Botswana, South Africa, Madagascar, Mauritius, Zanzibar, Argentina, Brazil, Colombia,
    Ecuador, Bolivia, Costa Rica, Panama, Cuba, Jamaica, Belize, Guatemala, Alaska, Hawaii, Montana,
    Vermont, Finland, Sweden, Denmark, Estonia, Latvia, Lithuania, Poland, Slovenia, Montenegro, Albania,
    Armenia, Cyprus, Malta, Madeira, Mallorca, Tenerife, Lanzarote, Santorini, Mykonos, Rhodes, Capri,
    Austria, Switzerland, Hungary, Romania, Bulgaria, Mongolia, Uzbekistan, South Korea, Taiwan,
    Singapore, Oman, Fiji, Samoa, Tahiti, Svalbard, Greenland, Yukon, Dalmatia, Bohemia, Transylvania,
    Hokkaido, Okinawa, Borneo, Sumatra, Anglesey, Gozo, Menorca, Corfu, Kefalonia
    """
)

EMPLOYER_STEMS = _words(
    """
    Northwind, Bluefield, Kestrel, Ironbridge, Silverline, Redwood, Brightwater, Stonegate, Harbourview,
    Clearpath, Greenleaf, Oakridge, Summit, Lighthouse, Riverbend, Copperfield, Foxglove, Highland,
    Meridian, Pinecrest, Quayside, Sandstone, Thornbury, Westbrook, Windmill, Zenith, Alderman, Beacon,
    Cobalt, Driftwood, Evergreen, Falcon, Granite, Hawthorn, Ivory, Juniper Hill, Keystone, Lantern,
    Maplewood, Nightingale, Orchard, Pioneer, Quarry, Rosewater, Saltmarsh, Tidewater, Upland, Vantage,
    Wildflower, Yellowstone, Amberley, Blackthorn, Castlegate, Dovetail, Elmstead, Fairhaven, Goldcrest,
    Heron, Inkwell, Larkspur, Moorland, Northgate, Parkside, Starling, Sycamore, Waterside, Kingfisher
    """
)

EMPLOYER_SUFFIXES = _words(
    """
    Analytics, Logistics, Health, Bank, Robotics, Foods, Media, Energy, Insurance, Labs, Studios, Partners,
    Systems, Pharma, Motors, Airlines, Hotels, Books, Builders, Consulting, Software, Architects, Dental,
    Clinic, Press, Games, Brewing, Textiles, Security, Telecom
    """
)

EMPLOYERS = tuple(f"{stem} {suffix}" for stem in EMPLOYER_STEMS for suffix in EMPLOYER_SUFFIXES)

JOB_TITLES = _words(
    """
    nurse, accountant, architect, barista, bookkeeper, carpenter, chef, civil engineer, data analyst,
    dental hygienist, dentist, electrician, graphic designer, high school teacher, lawyer, librarian,
    mechanic, paramedic, pharmacist, physiotherapist, plumber, primary teacher, product manager,
    project manager, radiographer, receptionist, research chemist, sales manager, social worker,
    software engineer, speech therapist, surveyor, translator, travel agent, veterinarian, web developer,
    welder, copywriter, journalist, photographer, airline pilot, flight attendant, firefighter,
    police officer, midwife, optician, dietitian, statistician, actuary, economist, geologist,
    marine biologist, lab technician, UX designer, game developer, sound engineer, video editor,
    museum curator, archivist, butcher, florist, landscaper, tailor, hairdresser, tattoo artist,
    personal trainer, yoga instructor, dance teacher, music teacher, piano tuner, locksmith, roofer,
    bricklayer, stonemason, train driver, bus driver, air traffic controller, logistics coordinator,
    warehouse manager, HR manager, recruiter, marketing manager, financial advisor, tax advisor,
    bank teller, insurance broker, estate agent, interior designer, fashion designer, jeweller,
    cartographer, urban planner, environmental scientist, nutritionist, occupational therapist,
    psychologist, counsellor, paediatrician, surgeon, anaesthetist, optometrist, radiologist,
    security guard, sommelier, brewer, winemaker, pastry chef, data scientist, systems administrator,
    network engineer, mechanical engineer, electrical engineer, structural engineer, quantity surveyor,
    patent attorney, paralegal, court reporter, event planner, tour guide, park ranger, zookeeper, farmer,
    fisherman, beekeeper, copy editor, proofreader, illustrator, animator, pharmacy technician
    """
)

FOODS = _words(
    """
    lasagna, pad thai, sushi, ramen, paella, risotto, tacos, burritos, dumplings, pho, biryani,
    butter chicken, falafel, shakshuka, moussaka, goulash, pierogi, gnocchi, carbonara, pizza,
    fish and chips, mac and cheese, fried chicken, chili con carne, enchiladas, empanadas, ceviche,
    bibimbap, bulgogi, katsu curry, green curry, massaman curry, laksa, nasi goreng, satay, spring rolls,
    dim sum, hot pot, peking duck, mapo tofu, jollof rice, tagine, couscous, hummus, kebabs, souvlaki,
    spanakopita, ratatouille, cassoulet, bouillabaisse, quiche, crepes, fondue, raclette, schnitzel,
    bratwurst, shepherd's pie, roast chicken, beef stew, lentil soup, tomato soup, minestrone,
    clam chowder, lobster rolls, steak frites, burgers, hot dogs, french toast, eggs benedict, porridge,
    avocado toast, poke bowls, tempura, udon, soba, okonomiyaki, takoyaki, onigiri, gyoza, bao buns,
    banh mi, tom yum, larb, arepas, feijoada, pupusas, tamales, pozole, jerk chicken, dal, samosas, dosa,
    paneer tikka, chana masala, pilaf, kofta, baklava, tiramisu, cheesecake, apple pie, chocolate cake,
    lemon tart, gelato, churros, mango sticky rice, carrot cake, grilled cheese, caesar salad,
    greek salad, poutine, pancakes, waffles, meatballs, bagels
    """
)

DRINKS = _words(
    """
    coffee, espresso, flat white, cappuccino, latte, cortado, macchiato, cold brew, iced coffee,
    green tea, black tea, chai, matcha, oolong, earl grey, peppermint tea, rooibos, hot chocolate,
    lemonade, ginger beer, kombucha, orange juice, apple juice, smoothies, milkshakes, sparkling water,
    iced tea, horchata, lassi, yerba mate, root beer, cola, cream soda, tonic water, red wine,
    white wine, prosecco, champagne, cider, stout, lager, pale ale, whisky, bourbon, rum,
    gin and tonic, margaritas, mojitos, negroni, spritz, sangria, sake, soju, mulled wine, eggnog,
    coconut water, bubble tea, hot toddy, mocha, golden milk, tomato juice, cranberry juice, ginger ale
    """
)

COLOURS = _words(
    """
    red, blue, green, yellow, orange, purple, pink, teal, turquoise, navy, maroon, burgundy, crimson,
    scarlet, coral, salmon pink, peach, lavender, lilac, mauve, magenta, cyan, indigo, violet,
    emerald green, forest green, mint green, olive green, mustard yellow, gold, silver, bronze,
    charcoal grey, slate grey, black, white, beige, ochre, terracotta, cobalt blue, sky blue,
    royal blue, baby blue, periwinkle, aquamarine, chartreuse, amber
    """
)

SPORTS = _words(
    """
    football, basketball, tennis, badminton, squash, cricket, rugby, baseball, volleyball, handball,
    ice hockey, field hockey, golf, swimming, cycling, rowing, sailing, surfing, skiing, snowboarding,
    boxing, judo, karate, fencing, archery, table tennis, water polo, netball, lacrosse, curling,
    gymnastics, triathlon, figure skating, diving, kayaking, canoeing, darts, snooker, bowling,
    wrestling, taekwondo, ultimate frisbee, padel, pickleball, orienteering, skateboarding, track cycling,
    beach volleyball, marathon running
    """
)

HOBBIES = _words(
    """
    knitting, crochet, pottery, woodworking, birdwatching, gardening, baking, photography, watercolour
    painting, sketching, calligraphy, origami, chess, jigsaw puzzles, crosswords, sudoku,
    stamp collecting, coin collecting, journaling, scrapbooking, embroidery, quilting, sewing,
    candle making, soap making, beekeeping, fly fishing, foraging, geocaching, stargazing, model trains,
    board games, bonsai, home brewing, bread making, fermenting, creative writing, poetry, podcasting,
    camping, metal detecting, magic tricks, juggling, salsa dancing, ballroom dancing, karaoke,
    amateur radio, 3D printing, drone flying, kite flying, meditation, pilates, improv theatre,
    choir singing, leathercraft, glassblowing, jewellery making, bookbinding, upholstery,
    furniture restoring, mushroom hunting, rock collecting, thrifting, genealogy, learning languages,
    hiking, rock climbing, bouldering, trail running, cross stitch, lino printing, mosaic making
    """
)

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

CARS = _words(
    """
    Toyota Corolla, Toyota Prius, Toyota RAV4, Toyota Yaris, Toyota Hilux, Honda Civic, Honda Jazz,
    Honda Accord, Honda CR-V, Ford Fiesta, Ford Focus, Ford Mustang, Ford Ranger, Volkswagen Golf,
    Volkswagen Polo, Volkswagen Passat, VW Beetle, Skoda Octavia, Skoda Fabia, Seat Leon, Renault Clio,
    Renault Megane, Peugeot 208, Peugeot 308, Citroen C3, Fiat 500, Fiat Panda, Alfa Romeo Giulia,
    Mini Cooper, Mini Countryman, BMW 3 Series, BMW X5, Audi A3, Audi A4, Mercedes A-Class, Volvo XC60,
    Volvo V70, Volvo 240, Saab 900, Kia Sportage, Kia Picanto, Kia Niro, Hyundai i30, Hyundai Ioniq,
    Mazda MX-5, Mazda 3, Nissan Leaf, Nissan Micra, Nissan Qashqai, Subaru Outback, Subaru Forester,
    Mitsubishi Outlander, Suzuki Swift, Jeep Wrangler, Chevrolet Bolt, Dodge Charger, Tesla Model 3,
    Tesla Model Y, Land Rover Defender, Range Rover, Porsche 911, Jaguar XE, Lexus RX, Dacia Duster,
    Opel Astra, Vauxhall Corsa, Polestar 2, Fiat Punto, Smart Fortwo, Lancia Ypsilon, Cupra Born,
    Citroen 2CV, Morris Minor, Toyota Land Cruiser, Volkswagen Transporter, Ford Transit, Honda Fit,
    Kia Soul, Renault Twingo, Skoda Superb, Mazda CX-5, Nissan Juke, Hyundai Santa Fe, Volvo XC90
    """
)

INSTRUMENTS = _words(
    """
    piano, guitar, bass guitar, violin, viola, cello, double bass, ukulele, banjo, mandolin, harp, flute,
    clarinet, oboe, bassoon, saxophone, trumpet, trombone, French horn, tuba, drums, harmonica, accordion,
    bagpipes, sitar, tabla, djembe, marimba, xylophone, glockenspiel, organ, synthesizer, bouzouki,
    balalaika, didgeridoo, steel drums, kalimba, hurdy-gurdy, lute, theremin, erhu, koto, shamisen, oud,
    bodhran, tin whistle, euphonium, cornet, piccolo
    """
)

# Things people buy, give and get (everyday purchases and gifts), lower case, one to three words.
THINGS = _words(
    """
    kayak, telescope, air fryer, standing desk, e-bike, record player,
    rice cooker, pressure cooker, bread maker, keyboard, tent, sleeping bag,
    hammock, paddleboard, surfboard, snowboard, skateboard, camera, tripod, microscope, globe,
    jigsaw puzzle, board game, weighted blanket, houseplant, fish tank, bird feeder,
    barbecue, smoker, lawnmower, leaf blower, power drill, toolbox, workbench, easel,
    watercolour set, loom, typewriter, fountain pen, leather journal,
    wristwatch, smartwatch, fitness tracker, treadmill, exercise bike, yoga mat,
    kettlebell, punching bag, climbing harness, rain jacket, winter coat, wool scarf,
    silk scarf, cashmere jumper, handmade quilt, cookbook, recipe book, novel, audiobook subscription,
    e-reader, tablet, laptop, gaming console, projector, soundbar, headphones, mechanical keyboard,
    desk lamp, reading chair, bookshelf, sofa bed, mattress, teapot, cast iron pan,
    wok, mandoline slicer, stand mixer, ice cream maker, juicer, dehydrator, unicycle,
    metronome, vinyl collection, sketchbook, magnifying glass, compass, bicycle helmet
    """
)
# Appointment dates: "March 14". Weekdays are too few to hold values apart for evaluation.
_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)  # fmt: skip
DATES = tuple(f"{m} {d}" for m in _MONTHS for d in range(1, 29))

ALL_NAMES = FEMALE_NAMES + MALE_NAMES + NEUTRAL_NAMES

# Pool name -> values. Relations in `facts` refer to pools by these names.
POOLS: dict[str, tuple[str, ...]] = {
    "female_names": FEMALE_NAMES + NEUTRAL_NAMES,
    "male_names": MALE_NAMES + NEUTRAL_NAMES,
    "any_names": ALL_NAMES,
    "pet_names": PET_NAMES,
    "cities": CITIES,
    "destinations": DESTINATIONS,
    "employers": EMPLOYERS,
    "job_titles": JOB_TITLES,
    "foods": FOODS,
    "drinks": DRINKS,
    "colours": COLOURS,
    "sports": SPORTS,
    "hobbies": HOBBIES,
    "weekdays": WEEKDAYS,
    "cars": CARS,
    "instruments": INSTRUMENTS,
    "things": THINGS,
    "dates": DATES,
}

# The disjoint families: a value may appear in only one of these (the name pools overlap on purpose).
POOL_FAMILIES: dict[str, tuple[str, ...]] = {
    "names": ALL_NAMES,
    **{name: pool for name, pool in POOLS.items() if name not in {"female_names", "male_names", "any_names"}},
}


# Share of every pool's values (by hash) that pretraining never uses: the default model's card measures
# recall on values it never saw.
HELDOUT_VALUE_PERCENT = 20


def value_split(value: str) -> str:
    """ "train" or "heldout" for a value, by a hash of its text (the same in every pool)."""
    digest = hashlib.sha256(f"value|{value.lower()}".encode()).digest()
    return "heldout" if int.from_bytes(digest[:4], "big") % 100 < HELDOUT_VALUE_PERCENT else "train"
