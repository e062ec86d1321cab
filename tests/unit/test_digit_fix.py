"""A caller's fix to a digit string read back (nlu/digit_fix.py): a piece of the number, placed where it
changes the digits heard least while the result has the expected length."""

from __future__ import annotations

import pytest

from voicebot.nlu.digit_fix import DigitFix, apply_digit_fixes, find_digit_fixes, read_repair


def ten(digits: str | None) -> bool:
    return digits is not None and len(digits) == 10


@pytest.mark.parametrize(("heard", "reply", "meant"), [
    # nine heard, ten needed: the missing digit said with where it goes
    ("286440197", "You missed a three before the seven at the end.", "2864401937"),
    ("184726093", "Double six after the two.", "1847266093"),
    ("106482573", "You missed a nine. It goes between the two and the five.", "1064829573"),
    ("120000934", "There's five zeros in a row, not four.", "1200000934"),
    ("582304719", "Nah, there's two sevens together. Double seven.", "5823047719"),
    ("445560721", "And the last digit is eight.", "4455607218"),
    ("884700123", "Last digit six is missing.", "8847001236"),
    # eleven heard: the extra digit named
    ("62039118475", "You've got the one twice. It's just a single one.", "6203918475"),
    ("52740019938", "There's only a single zero after the four.", "5274019938"),
    ("18366672045", "It's double six, not triple six.", "1836672045"),
    ("85314064297", "There's no four between the one and the zero.", "8531064297"),
    ("98072245169", "Not quite, there's no nine in front. It starts eight oh seven.", "8072245169"),
    ("48150062933", "You've doubled the three at the end, it's just a single three.", "4815006293"),
    ("20938574612", "Scratch the two at the end, it finishes on six one.", "2093857461"),
    # ten heard, one wrong or two swapped
    ("8253016647", "Nearly. It ends seven four, not four seven.", "8253016674"),
    ("5721690034", "You've swapped the one and the two. Five seven one two.", "5712690034"),
    ("7580264119", "It's six double four one nine, not six four double one nine.", "7580264419"),
    ("8190465732", "Nope, it's four five six, you said four six five.", "8190456732"),
    ("2013648591", "Almost, just the end, it's a seven, not a one.", "2013648597"),
    ("3008142759", "Not quite, it's three oh double eight, not three double oh.", "3088142759"),
])
def test_a_fix_in_the_callers_words_gives_the_number_meant(heard: str, reply: str, meant: str) -> None:
    repair = read_repair(heard, reply, ten)
    assert repair is not None and repair.digits == meant and not repair.again


def test_the_number_said_again_in_the_answer_is_that_number() -> None:
    said = "You missed the five, it's four one three nine, then five, then two six oh eight seven."
    repair = read_repair("413926087", said, ten)
    assert repair is not None and repair.digits == "4139526087" and repair.again
    repair = read_repair("2486063971", "No, two four eight six, double oh, three nine seven one.", ten)
    assert repair is not None and repair.digits == "2486003971"  # "No, …" is not "no six"


def test_an_ordinal_fix_stays_an_ordinal_fix() -> None:
    repair = read_repair("6620918847", "The seventh digit should be a three.", ten)
    assert repair is not None and repair.digits == "6620913847"
    repair = read_repair("123", "the ninth digit is five", ten)
    assert repair is not None and repair.digits is None  # a digit the string does not have: read back again


def test_no_cue_is_no_fix_and_two_places_are_none() -> None:
    assert find_digit_fixes("eight nine zero") == []  # the rest of the number, as before
    assert read_repair("1234567", "eight nine zero", ten) is None  # (the dialog puts it after the digits)
    # the end said again over the digits heard there, and on: that number
    repair = read_repair("123456789", "eight nine zero", ten)
    assert repair is not None and repair.digits == "1234567890" and not repair.again
    assert apply_digit_fixes("1234567899", find_digit_fixes("no, it's a seven"), ten) is None  # where?


def test_what_a_fix_says() -> None:
    assert find_digit_fixes("there's a two before the four at the end") == [
        DigitFix("24", "", "end", right="4")]
    assert find_digit_fixes("no four between the one and the zero") == [DigitFix("10", "140", "any", left="1",
                                                                                  right="0")]
    assert find_digit_fixes("only a single zero after the four") == [DigitFix("40", "400", "any", left="4")]
    assert find_digit_fixes("it's one seven, not seven one") == [DigitFix("17", "71", "any")]


@pytest.mark.parametrize(("heard", "said", "fixed"), [
    ("482915736", "You missed a seven after the two.", "4827915736"),  # the 7 goes by the 2, not before the 7
    ("274903318", "After the nine there's a one, the rest is right.", "2749103318"),
    ("720364159", "Yeah, between the six and the four there's a zero.", "7203604159"),
    ("640098217", "Between the eight and the two you missed a five.", "6400985217"),
    ("918273645", "Ah, you left out the oh before the four five at the end.", "9182736045"),
    ("7304418256", "Between the three and the four it's a nine, not a zero.", "7394418256"),
])
def test_a_fix_goes_beside_the_digits_it_names_as_there(heard, said, fixed) -> None:
    """Fresh fourth set (eval/data/digit_repairs_heldout4.csv): the relation may lead ("after the nine there's
    a one"); the digits it names are where the new one goes, so a digit the number has twice is no doubt."""
    repair = read_repair(heard, said, ten)
    assert repair is not None and repair.digits == fixed


def test_a_bare_no_before_digits_is_the_answers_where_the_number_has_no_such_digits() -> None:
    """Transcripts at "Is that right?" have no commas: "oh no three seven at the end" is "Ah, no, three seven
    at the end" unless the number read back does have 3 7 there ("there's no 3 7 at the end")."""
    assert find_digit_fixes("oh no three seven at the end") == [DigitFix("", "37", "end", after_no=True)]
    repair = read_repair("8253016647", "oh no three seven at the end", ten)
    assert repair is not None and repair.digits == "8253016637"
    assert read_repair("8253016637", "no three seven at the end", ten) is None  # it has them: they go, 8 left
    repair = read_repair("8253016647", "no two four eight six double oh three nine seven one", ten)
    assert repair is not None and repair.digits == "2486003971" and repair.again
    assert not find_digit_fixes("there's no four at the end")[0].after_no


def test_a_swap_of_the_last_or_first_two_named_without_digits() -> None:
    for said in ("The last two are the wrong way round.", "the last two are the wrong way around"):
        repair = read_repair("8402967135", said, ten)
        assert repair is not None and repair.digits == "8402967153"
    repair = read_repair("8402967135", "you've swapped the first two", ten)
    assert repair is not None and repair.digits == "4802967135"
    assert read_repair("8402967133", "the last two are swapped", ten) is None  # the same digit twice
    repair = read_repair("8402967135", "the last two are five three", ten)  # digits said: an end fix
    assert repair is not None and repair.digits == "8402967153"


@pytest.mark.parametrize(("heard", "reply", "meant"), [
    ("35188824096", "Only two eights, not three.", "3518824096"),  # three eights
    ("14873665092", "Only a single six, not two.", "1487365092"),
    ("15010770264", "Just the one seven, not two.", "1501070264"),
    ("98644376450", "It's not double four, just the one.", "9864376450"),
])
def test_a_count_set_against_another_counts_the_same_digit(heard: str, reply: str, meant: str) -> None:
    repair = read_repair(heard, reply, ten)
    assert repair is not None and repair.digits == meant


@pytest.mark.parametrize(("heard", "reply", "meant"), [
    # a digit named as wrong, then what it should be
    ("3253942350", "No, the four's wrong, it's a five.", "3253952350"),
    ("5343081710", "Where you've got the eight, that's actually an oh.", "5343001710"),
    ("4621371376", "There's no two in it, that should be a six.", "4661371376"),
    # an end fix, or "the last one", after a number read back a digit short or over: placed where it fits
    ("717900589", "Yeah, the last four should be five eight five nine.", "7179005859"),
    ("518375306", "Yeah you've missed the last one, it's a four.", "5183753064"),
    ("605065206", "The last six digits are six five eight two oh six.", "6050658206"),
    ("77142053889", "It ends in three eight nine, there's only one eight.", "7714205389"),  # one clause
])
def test_fixes_naming_the_wrong_digit_or_a_part_of_another_length(heard: str, reply: str, meant: str) -> None:
    repair = read_repair(heard, reply, ten)
    assert repair is not None and repair.digits == meant


def test_near_the_start_is_no_place_at_the_start() -> None:
    repair = read_repair("745247305", "You missed a two near the start, between the four and the five.", ten)
    assert repair is not None and repair.digits == "7425247305"


def test_a_single_digit_where_the_number_has_no_double_is_no_fix_of_its_own() -> None:
    """ "only the one six at the start" after 1 6 6 2 …: the 6 6 is not at the start, so the clause before it
    ("it's one six two four") says the fix."""
    repair = read_repair("16624608565", "It's one six two four, only the one six at the start.", ten)
    assert repair is not None and repair.digits == "1624608565"


@pytest.mark.parametrize(("heard", "said", "fixed"), [
    ("9027716453", "No, there's only one seven. The second seven should be a four.", "9027416453"),
    ("7060819234", "The second oh should be a one.", "7061819234"),  # "the oh": the digit
    ("52088164937", "Take out the second eight.", "5208164937"),
    ("350617729", "You've missed out the fourth digit, it's a nine.", "3509617729"),
    ("81234455679", "The fifth digit's extra, take it out.", "8123455679"),
    ("7712045893", "No, the second to last one is a seven.", "7712045873"),  # a place, not a digit 1
    ("8463920175", "That nine should be a one.", "8463120175"),
    ("5913206748", "Where you've got two oh in the middle, it should be four four.", "5913446748"),
    ("9912640385", "Yeah that's right except the oh, that's actually a six.", "9912646385"),
    ("8214730695", "No. Swap the four and the seven.", "8217430695"),
    ("2719381846", "No, the third digit's an eight, and the last one is a five.", "2789381845"),
    ("90312776845", "You've put a one in there somewhere, there isn't a one in the number at all.",
     "9032776845"),
    ("59036214877", "Just the one seven at the end, not two.", "5903621487"),
    # as the recogniser writes them spoken by festival voices
    ("720364159", "Yeah, between the six and the four, there's a zero.", "7203604159"),  # where, then what
    ("274903318", "After the nine, there's the one, the rest is right.", "2749103318"),
    ("350617729", "You've missed out the 4th digit. It's a 9.", "3509617729"),  # the digit a sentence on
    ("8463920175", "the floor is wrong it should be a nine", "8963920175"),  # "four" heard "floor"
])
def test_a_digit_named_by_its_kind_a_place_missing_or_extra_and_two_fixes_at_once(heard, said, fixed):
    """Fresh fourth set (eval/data/digit_repairs_heldout4.csv), read once before these rules."""
    repair = read_repair(heard, said, ten)
    assert repair is not None and repair.digits == fixed


@pytest.mark.parametrize(("heard", "said"), [
    ("1234567890", "take out the third seven"),  # there is one seven: nothing to take out
    ("1234567890", "the first two should be four five"),  # the first two digits, not the first 2
    ("123456789", "the fourth digit is extra"),  # one short already: taking one out does not fit
])
def test_a_named_digit_or_place_that_does_not_fit_changes_nothing_by_it(heard, said):
    repair = read_repair(heard, said, ten)
    assert repair is None or "taken out" not in repair.how and "changed)" not in repair.how


@pytest.mark.parametrize(("heard", "said", "fixed"), [
    # the start said, then said again longer in a sentence of its own
    ("481072659", "It begins with a nine. Nine four eight one, and the rest is fine.", "9481072659"),
    # where the missing digit goes is the next clause's end, not "at the end" of the number
    ("362904815", "You've missed the seven, it finishes four eight seven one five at the end.", "3629048715"),
    # what was heard named after what was said
    ("739142658", "I said one oh four two, you've only got one four two.", "7391042658"),
    ("5830462113", "Not double one, it's one seven.", "5830462173"),
    ("8302771645", "Not double seven, it's seven three.", "8302731645"),
    ("1947360285", "You've got the six and the oh round the wrong way.", "1947306285"),
    # two places swapped, named by their order
    ("6205183947", "The third and fourth digits are swapped.", "6250183947"),
    ("6205183947", "You've switched the second and the last ones.", "6705183942"),
    # two parts named as wrong in one answer
    ("5096312874", "It's three one five, not three one two, and the last one's a two, not a four.",
     "5096315872"),
])
def test_fifth_set_kinds_a_restated_start_a_named_swap_and_two_substitutions(heard, said, fixed):
    """Fresh fifth set (eval/data/digit_repairs_heldout5.csv), read once before these rules; our own lines."""
    repair = read_repair(heard, said, ten)
    assert repair is not None and repair.digits == fixed


def test_a_digit_said_not_to_be_there_then_what_follows_it_is_taken_out_not_replaced() -> None:
    """ "no four at the start, it's one two three": the 4 goes, the 1 2 3 after it stays."""
    repair = read_repair("41238574690", "There's no four at the start, it's one two three.", ten)
    assert repair is not None and repair.digits == "1238574690"


def test_a_digit_taken_out_by_name_even_after_saying_it_is_not_there() -> None:
    repair = read_repair("61870394425", "Take the seven out.", ten)
    assert repair is not None and repair.digits == "6180394425"
    repair = read_repair("61870394425", "There's no seven in it, take the seven out.", ten)
    assert repair is not None and repair.digits == "6180394425"


@pytest.mark.parametrize(("heard", "said", "fixed"), [
    # one of a digit the number has twice, taken out ("one of the sixes": either gives the same number)
    ("40966218537", "Take out one of the sixes.", "4096218537"),
    ("40961882157", "There's one eight too many.", "4096182157"),
    ("40966218537", "Take out one of the sixes, and it ends five three six, not five three seven.",
     "4096218536"),
    # a digit said once where it was heard twice
    ("33074829165", "You've got the three twice at the start, it's only once.", "3074829165"),
    # a count against a count, with "in a row" and "of them"
    ("52777716034", "There's three sevens in a row, not four of them.", "5277716034"),
    # a fix said on over clauses of one sentence, placed over the one stretch named as wrong
    ("4441706253", "It's double four, double one, not triple four.", "4411706253"),
    ("8206555773", "Not triple five, it's double five then a two, then double seven.", "8206552773"),
    ("5917366280", "It's double three, then six two eight oh. Not three double six.", "5917336280"),
])
def test_one_of_a_digit_once_not_twice_and_a_fix_said_on_over_clauses(heard, said, fixed):
    repair = read_repair(heard, said, ten)
    assert repair is not None and repair.digits == fixed


@pytest.mark.parametrize(("heard", "said", "fixed"), [
    # as the recogniser writes festival voices' fixes: digits between commas said on, "the O", an ordinal's
    # "th" lost, a swap read on with the number
    ("51302779884", "Yeah, it ends 8, 4, not 8, 8, 4", "5130277984"),
    ("62710598342", "There shouldn't be a five after the O. It's 0, 9.", "6271098342"),
    ("7305129846", "no the seven digit should be a four", "7305124846"),
    ("2864091573", "close but the one and the five are swapped it's nine five one seven three", "2864095173"),
    # the sixth set's transcripts:
    # a take-back with no commas, and one that says the last digits again and goes on
    ("6038152947", "swap the one and the five wait no the two and the nine", "6038159247"),
    ("6038152947", "it's six oh three eight one six two sorry six two nine four seven", "6038162947"),
    # digits heard as words after the words that name one, and "parts with", "digits in"
    ("6038152947", "after the one it's free not a five", "6038132947"),
    ("6038152947", "the second last is innate not a four", "6038152987"),
    ("603815247", "you've only got one for there should be two of them", "6038152447"),
    ("6038152947", "it's parts with a nine not a six", "9038152947"),
    ("6038152947", "the third digits in eight not a three", "6088152947"),
    # "oh" heard "no" inside a run of digits (two or more digits on one side)
    ("6038106247", "that's one no five two not one no six two", "6038105247"),
    # a list of digits with commas between them, at the end; "it ends" with the digits straight after it
    ("603815294", "It's 2, 9, 4, 7 at the end.", "6038152947"),
    ("60381529477", "it ends 947 only one seven at the end", "6038152947"),
    # the seventh set's: "purple" for double, "just the 1-8", digits with a dot, "oh as in zero", a count with
    # a dash and "they're", a digit and "no" a digit, "jumbled", "the 9th numbers and 8th"
    ("368152947", "It's purple free at the start. You've only got the one free.", "3368152947"),
    ("60381529447", "It's just the 1-4 after the 9.", "6038152947"),
    ("6038152947", "close but it ends 4.8 not 4.7", "6038152948"),
    ("6038152947", "it's 608 not 603 0 is in 0", "6088152947"),
    ("66638152947", "You've got three-sixes at the start. They're only two.", "6638152947"),
    ("6038152947", "not that last one to eight no seven", "6038152948"),
    ("6038152947", "you've jumbled the nine and the four it's two four nine seven", "6038152497"),
    ("6038152947", "no love the 9th numbers and 8th", "6038152987"),
    ("880216749", "You've missed the five. It goes 8.0, 5.1, rest is fine.", "8805216749"),  # a run, no "not"
    # "the second last one" is a place, not a 1; a digit said again after "yeah"; "floor" in an ordinal fix
    ("6038152957", "the second to last one should be the floor yeah floor", "6038152947"),
    ("6038152957", "The second last one should be a, um, a four. Yeah, four.", "6038152947"),
    # a take-back whose number said again lost a digit ("oh"): the answer read as heard
    ("8315047926", "no eight three one five four seven two nine no sorry let me look yeah two nine six",
     "8315047296"),
])
def test_fixes_as_the_recogniser_writes_them(heard, said, fixed):
    """Fresh fifth to seventh sets spoken by festival voices: their transcripts' forms, our own lines."""
    repair = read_repair(heard, said, ten)
    assert repair is not None and repair.digits == fixed


@pytest.mark.parametrize(("heard", "said", "fixed"), [
    # a part taken back and said again in the same answer
    ("6038152947", "The fourth one's a seven, no sorry, a nine.", "6039152947"),
    ("6038152947", "Swap the one and the five, hang on, no, the two and the nine.", "6038159247"),
    ("6038152947", "It's six oh three, eight one five, sorry, eight one six two nine four seven.",
     "6038162947"),
    # a place without "digit", and the one before the last
    ("6038152947", "The seventh is a three and the one before last is an eight.", "6038153987"),
    # a digit the number has once where it has more, and a double said against a triple
    ("602815947", "You've only got the one two, there should be two of them.", "6022815947"),
    ("60281115947", "No, it's double one, not three of them.", "6028115947"),
    # a fix beside a digit: said then wrong, or after "the first"
    ("6038152947", "It's 6 not 5, after the 1.", "6038162947"),
    ("6038152947", "It's two five, not five two, after the one.", "6038125947"),
    ("6038152947", "After the first eight there's a four, not a one.", "6038452947"),
    # the digits said up to a point, and the rest said to be right
    ("6038152947", "It's six oh three eight one two, the rest's fine.", "6038122947"),
    ("6038152947", "You've flipped the second and third ones.", "6308152947"),
    # the seventh set's: two counts of one digit, the number's and the one read back, in either order
    ("215880643", "Och, it's two sixes near the end, you've only got the one.", "2158806643"),
    ("66620814395", "You've got three sixes at the start, there's only two.", "6620814395"),
    ("40509177263", "Nah, one seven, not two, then two six three.", "4050917263"),
    # what the number has not, then what it has beside a digit, in a sentence of its own
    ("3068917745", "There's no double seven. After the seven it's a two, then four five.", "3068917245"),
    # the start and the end, both said; a take-back that looks the number up again
    ("7559038269", "No, it's seven one five nine at the start, and it ends six four.", "7159038264"),
    ("8315047926",
     "No. Eight three one five, oh four seven, two nine, no, sorry, let me look, yeah, two nine six.",
     "8315047296"),
    ("8126751980", "Not right. Second digit's a four, and the one before the zero at the end is a three.",
     "8426751930"),
])
def test_sixth_and_seventh_set_kinds_take_backs_places_counts_and_fixes_beside_a_digit(heard, said, fixed):
    """Fresh sixth and seventh sets (eval/data/digit_repairs_heldout{6,7}.csv), each read once before these
    rules; our own lines."""
    repair = read_repair(heard, said, ten)
    assert repair is not None and repair.digits == fixed


@pytest.mark.parametrize(("heard", "said", "fixed"), [
    # festival's words as whisper writes them: "a note" (nought), "after date", "you set", "8s", "hearts
    # with", "second the last", "not to travel eight", "two weights"; a place taken back ("the six no seven
    # digit")
    ("603812947", "There's a note between the one and the two.", "6038102947"),
    ("603815247", "You've lost a nine after date.", "6038915247"),
    ("6038152947", "where you set one five, it's one six", "6038162947"),
    ("60388152947", "Take one of the 8s out.", "6038152947"),
    ("6038152947", "it's hearts with a one not a six", "1038152947"),
    ("6038152947", "the second the last is a three", "6038152937"),
    ("2888471506", "double two double eight not to travel eight", "2288471506"),
    ("60381529488", "you've got two weights at the end, there's only one", "6038152948"),
    ("8467108925", "the six no seven digit should be a three", "8467103925"),
    # a count against another with the plural lost, at the start; "aren't"; an extra digit; "where did … come
    # from"
    ("60388815294", "Two eight, not three.", "6038815294"),
    ("3957266481", "there aren't two sixes it's six oh four eight one", "3957260481"),
    ("66038152947", "you've got an extra six near the start, six oh three eight", "6038152947"),
    ("60381523947", "where did that second three come from? after the two it goes straight to nine",
     "6038152947"),
    # sentences run together without a stop: after a count, after "not double …"
    ("6083521194", "there's only one one it's five two seven one nine four", "6083527194"),
    ("6051844719", "double seven not double four four seven seven one nine", "6051847719"),
    # the digits said put together with the ones heard: the end said again and on; the number said again, both
    # hearings a digit short
    ("948160523", "oh five two three seven", "9481605237"),
    ("603815947", "6 0 3 8 1 5 2 9 4", "6038152947"),
    # the ninth set: "double low" (double oh), "only one to" (only one two), "the third one last", "in the
    # row", "at this target" (at the start), "between the 9th and 2", "the two ends and nine", "not three
    # five" (fives)
    ("00038129476", "it's double low at the start, not triple", "0038129476"),
    ("6038152947", "the third one last should be a one", "6038152147"),
    ("603822215", "there are four twos in the row, not three", "6038222215"),
    ("6038152947", "it's a seven at this target", "7038152947"),
    ("603812947", "Between the 1st and 2, there's a five.", "6038152947"),
    ("6038152974", "you've got the seven ends and four the wrong way round", "6038152947"),
    ("60385552947", "It's only double five, not three five.", "6038552947"),
])
def test_eighth_and_ninth_sets_as_the_recogniser_writes_them(heard, said, fixed):
    """The eighth and ninth sets spoken by festival voices: their transcripts' forms, our own lines."""
    repair = read_repair(heard, said, ten)
    assert repair is not None and repair.digits == fixed


@pytest.mark.parametrize(("heard", "said", "fixed"), [
    # a count of the digit named last, "of them"; a digit "cut off"
    ("603815297", "Two two. Double two. There's two of them.", "6038152297"),
    ("603815294", "two nine four seven, you've cut off the seven", "6038152947"),
    # one of a repeated digit taken out, said around it
    ("60388152947", "Get one of the eights off.", "6038152947"),
    ("60388152947", "One of the eights is extra.", "6038152947"),
    # the digits from a digit named, said again from it or not
    ("60381552947", "From the one: one five two nine four seven.", "6038152947"),
    ("60381552947", "from the one on it's five two nine four seven", "6038152947"),
    ("60381552947", "from the two it's two nine four seven", None),  # (the length does not change)
    # the number said again among more digits: a part of it once more, after or before it
    ("6038152497", "Six oh three eight, one five, two nine four seven. Two nine four seven.", "6038152947"),
    ("603815247", "double two near the end. six oh three eight one five double two four seven", "6038152247"),
    ("603815247", "one two three four five six seven eight nine one two", None),  # none near the digits heard
    # the ninth set: what the caller says is there against what was read back, "X, you've got Y"; a digit
    # "added"
    ("3150802749", "it's double oh eight, you've got oh eight oh", "3150082749"),
    ("31508627149", "you've added a one after the seven, take it out", "3150862749"),
    # "one" as a pronoun after "there isn't"
    ("31508627149", "drop the one after the seven, there isn't one there", "3150862749"),
    # a place missed, its digit first of the digits said on from it
    ("315086749", "the eighth digit's a two, you missed it, then four nine", "3150867249"),
    # the digits said again on from a part named ("two sevens, seven seven one four"), and a digit named
    # then said again as the first of them ("it starts with the zero, oh two …")
    ("315086714", "there should be two sevens together, seven seven one four", "3150867714"),
    ("31508677714", "only the two sevens, six seven seven one four", "3150867714"),
    ("53150867714", "there's no five at the front, it starts with the three, three one five", "3150867714"),
])
def test_eighth_and_ninth_set_kinds(heard, said, fixed):
    """Fresh eighth and ninth sets (eval/data/digit_repairs_heldout{8,9}.csv), each read once before these
    rules: counts "of them", one of a repeat, the digits from one named, a part stressed; what "you've got", a
    digit added, parts said again and on. Our own lines."""
    repair = read_repair(heard, said, ten)
    assert (repair.digits if repair is not None else None) == fixed


@pytest.mark.parametrize(("heard", "said", "fixed"), [
    # a digit in the wrong place moved beside the digit named (from the end when it is said not to be there)
    ("6038152947", "The seven's in the wrong place, it should come before the two, not at the end.",
     "6038157294"),
    ("6038152947", "Move the nine after the six.", "6903815247"),
    ("6038152947", "The five's in the wrong place.", None),  # where it goes is not said
    # two places swapped, counted from the end, with the two said in their new order
    ("6038152947", "The fourth and third from the end are the wrong way round.", "6038159247"),
    ("6038152947", "The fourth and third from the end are swapped, it's nine two.", "6038159247"),
    # beside the first or last of a digit the number has twice
    ("693815297", "There's a four missing after the last nine.", "6938152947"),
    ("693815297", "You skipped the four. Six nine three eight, then one five two nine four seven.",
     "6938152947"),
    ("603815207", "You missed a six before the first oh.", "6603815207"),
])
def test_a_digit_moved_places_counted_from_the_end_and_the_first_or_last_of_a_digit(heard, said, fixed):
    repair = read_repair(heard, said, ten)
    assert (repair.digits if repair is not None else None) == fixed


def test_two_counts_are_a_fix_of_that_digit_and_digits_said_are_no_count() -> None:
    assert find_digit_fixes("You've got three sixes at the start, there's only two.") == \
        [DigitFix("66", "666", "start")]
    repair = read_repair("6038152747", "It's one seven, not two seven.", ten)  # digits: 1 7, not 2 7
    assert repair is not None and repair.digits == "6038151747"


def test_a_digit_heard_as_a_word_only_after_words_that_name_one() -> None:
    assert read_repair("6038152947", "no that one's not for me", ten) is None  # not "not four"
    repair = read_repair("6038152947", "the last one's a free", ten)
    assert repair is not None and repair.digits == "6038152943"
