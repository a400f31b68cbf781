"""Word lists for the data set generator: agencies, provinces, Thai names (romanised + Thai).

Every Thai string here is encodable in cp874 (TIS-620), so any generated file can be
written in that encoding.
"""

from __future__ import annotations

# (domain label, Thai name) of the central ministries: the largest tenants.
MINISTRIES: tuple[tuple[str, str], ...] = (
    ("opm", "สำนักนายกรัฐมนตรี"), ("moph", "กระทรวงสาธารณสุข"), ("moe", "กระทรวงศึกษาธิการ"),
    ("moi", "กระทรวงมหาดไทย"), ("mof", "กระทรวงการคลัง"), ("mod", "กระทรวงกลาโหม"),
    ("moac", "กระทรวงเกษตรและสหกรณ์"), ("mot", "กระทรวงคมนาคม"), ("moj", "กระทรวงยุติธรรม"),
    ("mol", "กระทรวงแรงงาน"), ("mfa", "กระทรวงการต่างประเทศ"), ("moc", "กระทรวงพาณิชย์"),
    ("mnre", "กระทรวงทรัพยากรธรรมชาติและสิ่งแวดล้อม"), ("energy", "กระทรวงพลังงาน"),
    ("industry", "กระทรวงอุตสาหกรรม"), ("mots", "กระทรวงการท่องเที่ยวและกีฬา"),
    ("m-culture", "กระทรวงวัฒนธรรม"), ("mhesi", "กระทรวงการอุดมศึกษา วิทยาศาสตร์ วิจัยและนวัตกรรม"),
    ("mdes", "กระทรวงดิจิทัลเพื่อเศรษฐกิจและสังคม"), ("m-society", "กระทรวงการพัฒนาสังคมและความมั่นคงของมนุษย์"),
)

PROVINCES: tuple[str, ...] = (
    "bangkok", "krabi", "kanchanaburi", "kalasin", "kamphaengphet", "khonkaen", "chanthaburi",
    "chachoengsao", "chonburi", "chainat", "chaiyaphum", "chumphon", "chiangrai", "chiangmai", "trang",
    "trat", "tak", "nakhonnayok", "nakhonpathom", "nakhonphanom", "nakhonratchasima", "nakhonsithammarat",
    "nakhonsawan", "nonthaburi", "narathiwat", "nan", "buengkan", "buriram", "pathumthani",
    "prachuapkhirikhan", "prachinburi", "pattani", "ayutthaya", "phayao", "phangnga", "phatthalung",
    "phichit", "phitsanulok", "phetchaburi", "phetchabun", "phrae", "phuket", "mahasarakham", "mukdahan",
    "maehongson", "yasothon", "yala", "roiet", "ranong", "rayong", "ratchaburi", "lopburi", "lampang",
    "lamphun", "loei", "sisaket", "sakonnakhon", "songkhla", "satun", "samutprakan", "samutsongkhram",
    "samutsakhon", "sakaeo", "saraburi", "singburi", "sukhothai", "suphanburi", "suratthani", "surin",
    "nongkhai", "nongbualamphu", "angthong", "amnatcharoen", "udonthani", "uttaradit", "uthaithani",
    "ubonratchathani",
)

# Departments: each lives under one ministry's domain (dept.ministry.go.th).
DEPARTMENTS: tuple[str, ...] = (
    "dopa", "dla", "dol", "cdd", "ddc", "dms", "fda", "dmh", "anamai", "dtam", "dmsc", "hss", "rd",
    "customs", "excise", "cgd", "treasury", "doae", "rid", "dld", "fisheries", "cpd", "dwr", "dmr",
    "dnp", "pcd", "deqp", "rfd", "doh", "dlt", "dr", "md", "obec", "vec", "opec", "ksp", "dsi",
    "probation", "correct", "rlpd", "doe", "dsd", "dlpw", "sso", "ditp", "dtn", "dbd", "ocpb", "dip",
    "diw", "oie", "dpim", "dede", "eppo", "dmf", "nso", "tmd", "ega", "depa", "fad", "dra", "dcy",
    "dop", "nesdc", "ocsc", "prd", "soc", "disaster", "drr", "dpt",
)

# (romanised for the address, Thai for the name)
GIVEN_NAMES: tuple[tuple[str, str], ...] = (
    ("somchai", "สมชาย"), ("somsri", "สมศรี"), ("somporn", "สมพร"), ("malee", "มาลี"), ("wanchai", "วันชัย"),
    ("suda", "สุดา"), ("prasit", "ประสิทธิ์"), ("nong", "น้อง"), ("kanokporn", "กนกพร"), ("pranee", "ปราณี"),
    ("surachai", "สุรชัย"), ("ratana", "รัตนา"), ("chaiya", "ชัยยา"), ("siriwan", "ศิริวรรณ"),
    ("boonsong", "บุญส่ง"), ("arunee", "อรุณี"), ("thongchai", "ธงชัย"), ("pimchanok", "พิมพ์ชนก"),
    ("kittipong", "กิตติพงษ์"), ("nattaya", "ณัฐยา"), ("weerapong", "วีระพงษ์"), ("jiraporn", "จิราพร"),
    ("sakchai", "ศักดิ์ชัย"), ("ubon", "อุบล"), ("thanakorn", "ธนากร"), ("sasithorn", "ศศิธร"),
    ("pongsak", "พงษ์ศักดิ์"), ("warunee", "วารุณี"), ("adisak", "อดิศักดิ์"), ("kannika", "กรรณิการ์"),
    ("chalermchai", "เฉลิมชัย"), ("duangporn", "ดวงพร"), ("ekkachai", "เอกชัย"), ("lamai", "ละม้าย"),
    ("monthon", "มณฑล"), ("nipaporn", "นิภาพร"), ("orathai", "อรทัย"), ("paiboon", "ไพบูลย์"),
    ("rungnapa", "รุ่งนภา"), ("sombat", "สมบัติ"), ("tassanee", "ทัศนีย์"), ("uthai", "อุทัย"),
    ("worawut", "วรวุฒิ"), ("yaowalak", "เยาวลักษณ์"), ("banjong", "บรรจง"), ("chutima", "ชุติมา"),
    ("jakkrit", "จักรกฤษณ์"), ("khwanjai", "ขวัญใจ"), ("manee", "มณี"), ("wiroj", "วิโรจน์"),
)

SURNAMES: tuple[tuple[str, str], ...] = (
    ("saelim", "แซ่ลิ้ม"), ("suksawat", "สุขสวัสดิ์"), ("thongkham", "ทองคำ"), ("boonrod", "บุญรอด"),
    ("chaisiri", "ชัยศิริ"), ("kaewkla", "แก้วกล้า"), ("srisawat", "ศรีสวัสดิ์"), ("rattanapong", "รัตนพงศ์"),
    ("wongsuwan", "วงศ์สุวรรณ"), ("phuphan", "ภูพาน"), ("intarasuk", "อินทรสุข"), ("panyadee", "ปัญญาดี"),
    ("jaroensuk", "เจริญสุข"), ("sangsri", "แสงศรี"), ("mahachai", "มหาชัย"), ("nakhonthai", "นครไทย"),
    ("thepsuwan", "เทพสุวรรณ"), ("yodying", "ยอดยิ่ง"), ("kongsak", "คงศักดิ์"), ("lertwit", "เลิศวิทย์"),
    ("pholsri", "ผลศรี"), ("siripan", "ศิริพันธ์"), ("tanasan", "ธนสาร"), ("udomsuk", "อุดมสุข"),
    ("wichitchai", "วิจิตรชัย"), ("amornrat", "อมรรัตน์"), ("buakaew", "บัวแก้ว"), ("chomphu", "ชมภู"),
    ("duangdee", "ดวงดี"), ("hongthong", "หงษ์ทอง"), ("jampa", "จำปา"), ("khemthong", "เข็มทอง"),
    ("meechai", "มีชัย"), ("ngamsri", "งามศรี"), ("onsuwan", "อ่อนสุวรรณ"), ("prommin", "พรหมมินทร์"),
    ("ruangsri", "เรืองศรี"), ("sombun", "สมบุญ"), ("thammarat", "ธรรมรัตน์"), ("wattanakul", "วัฒนกุล"),
)

# Valid rows whose names are awkward for CSV, LDAP filters/DNs and spreadsheets.
AWKWARD_NAMES: tuple[str, ...] = (
    "Smith, John", 'Say "Cheese" Person', "Back\\slash", "Plus+Sign", "Semi;colon", "<angle> & amp",
    "*)(uid=*", "(|(mail=*))", '=HYPERLINK("http://x.example","click")', "  leading and trailing  ",
    "#hash first", "ชื่อ, นามสกุล", "+66 2 123 4567", "-minus first", "@at first", "'apostrophe first",
    "สมชาย \"ไก่\" ใจดี", "ก" * 256, "cn=admin,o=mailgothai",
)
# Awkward but valid local parts (the address is lower case: it is stored lower-cased).
AWKWARD_LOCALS: tuple[str, ...] = ("o'brien", "-dash", "plus+tag", "eq=sign", "hash#x", "amp&and", "under_score")
