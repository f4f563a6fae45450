[000h 0000   4]                    Signature : "RSDT"    [Root System Description Table]
[004h 0004   4]                 Table Length : 00000028
[008h 0008   1]                     Revision : 01
[009h 0009   1]                     Checksum : 79
[00Ah 0010   6]                       Oem ID : "TVISOR"
[010h 0016   8]                 Oem Table ID : "TVPCRSDT"
[018h 0024   4]                 Oem Revision : 00000001
[01Ch 0028   4]              Asl Compiler ID : "TVSR"
[020h 0032   4]        Asl Compiler Revision : 00000001

[024h 0036   4]       ACPI Table Address   0 : 000E0160

Raw Table Data: Length 40 (0x28)

    0000: 52 53 44 54 28 00 00 00 01 79 54 56 49 53 4F 52  // RSDT(....yTVISOR
    0010: 54 56 50 43 52 53 44 54 01 00 00 00 54 56 53 52  // TVPCRSDT....TVSR
    0020: 01 00 00 00 60 01 0E 00                          // ....`...
