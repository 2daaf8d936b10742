"""DICOMImgCmp: find every de-identified DICOM image whose pixel values differ from its source.

Data path: :mod:`.config` -> :mod:`.index` -> :mod:`.pairing` -> :mod:`.compare` -> :mod:`.render` ->
:mod:`.report`, driven by :mod:`.pipeline`.
"""

__version__ = "1.1.0"
